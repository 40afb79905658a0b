"""The inbox's pure parts: settings, `/sms` parsing, quiet hours, reminders, blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.inbox_blocks import CLAIM, MARK_READ, RESOLVE, render_inbox, thread_buttons
from bot.inbox_blocks import thread_state_blocks as state_blocks
from bridge.config import ConfigError, load_settings
from bridge.inbox_cards import Reminder, Speaker, ThreadState, Transcript, TranscriptLine
from bridge.inbox_query import FindQuery, Refusal, parse_find, parse_period, summarize
from bridge.inbox_view import age
from bridge.reminders import reminder_due
from store.inbox import Stats
from store.models import InboxEntry
from tests.conftest import base_env

NOON = datetime(2026, 3, 12, 12, 0, tzinfo=UTC)


def test_inbox_settings_default_as_documented() -> None:
    settings = load_settings(base_env(), env_file=None)
    assert settings.inbox_size == 10
    assert settings.resolved_new_thread is True
    assert settings.sla_mention is None
    assert settings.bump_after_minutes == 60
    assert settings.response_sla_minutes == 60


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("INBOX_SIZE", "0", "at least 1"),
        ("INBOX_SIZE", "80", "at most 45"),
        ("INBOX_SIZE", "ten", "expected a number"),
        ("RESOLVED_NEW_THREAD", "maybe", "expected on or off"),
        ("SLA_MENTION", "@support", "user group ID"),
        ("BUMP_AFTER_MINUTES", "-5", "at least 0"),
        ("RESPONSE_SLA_MINUTES", "0", "at least 1"),
    ],
)
def test_a_malformed_inbox_setting_stops_start_up_naming_it(
    name: str, value: str, says: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(base_env(**{name: value}), env_file=None)
    assert str(raised.value).startswith(f"{name}: ") and says in str(raised.value)


def test_inbox_settings_are_read() -> None:
    env = base_env(
        INBOX_SIZE="20", RESOLVED_NEW_THREAD="off", SLA_MENTION="S0SUPPORT", BUMP_AFTER_MINUTES="0"
    )
    settings = load_settings(env, env_file=None)
    assert (settings.inbox_size, settings.resolved_new_thread) == (20, False)
    assert (settings.sla_mention, settings.bump_after_minutes) == ("S0SUPPORT", 0)


def test_find_reads_numbers_names_and_explains_what_it_cannot() -> None:
    assert parse_find("(415) 555-0100", region="US") == FindQuery(phone="+14155550100")
    assert parse_find("+44 20 7946 0000", region="US") == FindQuery(phone="+442079460000")
    assert parse_find("  Ann Lee ", region="US") == FindQuery(name="Ann Lee")
    for bad in ("12", "415-55x", ""):
        assert isinstance(parse_find(bad, region="US"), Refusal)
    assert isinstance(parse_find("a", region="US"), Refusal)


def test_periods_and_summaries() -> None:
    assert parse_period("") == timedelta(days=7)
    assert parse_period("30d") == timedelta(days=30)
    assert parse_period("24H") == timedelta(hours=24)
    for bad in ("0d", "9999d", "week", "7 days"):
        assert isinstance(parse_period(bad), Refusal), bad
    summary = summarize(Stats(conversations=3, response_seconds=[60, 600, 120], overdue=1))
    assert summary.median_first_response == timedelta(seconds=120)
    assert (summary.conversations, summary.answered, summary.overdue) == (3, 3, 1)
    assert summarize(Stats(0, [], 0)).median_first_response is None


def test_ages_read_naturally() -> None:
    assert age(NOON, NOON + timedelta(seconds=30)) == "just now"
    assert age(NOON, NOON + timedelta(minutes=5)) == "5 min ago"
    assert age(NOON, NOON + timedelta(hours=3)) == "3 h ago"
    assert age(NOON, NOON + timedelta(days=2)) == "2 d ago"
    assert age(None, NOON) == ""


def test_a_reminder_is_due_once_per_wait_after_the_sla() -> None:
    sla = timedelta(minutes=60)
    entry = InboxEntry(conversation_id=1, contact_id=1, waiting_since=NOON)
    assert not reminder_due(entry, sla=sla, now=NOON + timedelta(minutes=59))
    assert reminder_due(entry, sla=sla, now=NOON + timedelta(minutes=60))
    entry.reminded_for = NOON
    assert not reminder_due(entry, sla=sla, now=NOON + timedelta(hours=5))
    entry.waiting_since = NOON + timedelta(hours=2)  # a new wait after a reply
    assert reminder_due(entry, sla=sla, now=NOON + timedelta(hours=3))
    entry.resolved_at = NOON
    assert not reminder_due(entry, sla=sla, now=NOON + timedelta(hours=3))
    assert not reminder_due(None, sla=sla, now=NOON)


def test_header_state_and_buttons_follow_the_conversation() -> None:
    unread = ThreadState(7, unread=True)
    assert [b["action_id"] for b in thread_buttons(unread)] == [MARK_READ, CLAIM, RESOLVE]
    claimed = ThreadState(7, claimed_by="U1", overdue_since=NOON, previous_link="https://x/p1")
    text = str(state_blocks(claimed))
    assert "Claimed by <@U1>" in text and "Overdue" in text and "<https://x/p1|" in text
    assert [b["text"]["text"] for b in thread_buttons(claimed)] == ["Take over", "Resolve"]
    resolved = ThreadState(7, claimed_by="U1", resolved_by="U2")
    assert thread_buttons(resolved) == []
    assert "Resolved by <@U2>" in str(state_blocks(resolved)) and "Claimed" not in str(
        state_blocks(resolved)
    )
    assert state_blocks(ThreadState(7)) == [] and state_blocks(None) == []


def test_reminders_mention_whom_they_should() -> None:
    assert render_inbox(Reminder(NOON, 60, "S0TEAM"))[0].startswith("<!subteam^S0TEAM> ")
    assert render_inbox(Reminder(NOON, 60, "U0AGENT"))[0].startswith("<@U0AGENT> ")
    assert render_inbox(Reminder(NOON, 60, "here"))[0].startswith("<!here> ")
    assert render_inbox(Reminder(NOON, 60))[0].startswith(":alarm_clock:")


def test_a_long_transcript_stays_within_slacks_limits_and_inert() -> None:
    lines = tuple(
        TranscriptLine(NOON + timedelta(minutes=i), Speaker.CUSTOMER, "<!channel> " + "x" * 1500)
        for i in range(50)
    )
    text, blocks = render_inbox(Transcript(lines, note="part missing"))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks)
    assert len(text) < 40_000
    assert "part missing" in blocks[-1]["text"]["text"]
