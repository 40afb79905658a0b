"""Quiet hours end to end: a reply written at 5 a.m. the customer's time waits for 8 a.m."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.blocks import CANCEL_HELD, SEND_HELD_NOW, SET_TIMEZONE, TIMEZONE_BLOCK, TIMEZONE_INPUT
from store.models import Contact, DeliveryJob, Message, TimezoneChange
from tests.conftest import CHANNEL, FakeClock, postgres_database
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import texts_in
from tests.live import ADMIN, MANAGER, MEMBER, OWNER, Bridge, bridges
from tests.slack_events import ephemeral_press

# 8:02 a.m. in New York is 5:02 a.m. in Los Angeles, where the customer's number (415) is.
EARLY = datetime(2026, 1, 12, 13, 2, tzinfo=UTC)
EIGHT_IN_LA = datetime(2026, 1, 12, 16, 0, tzinfo=UTC)
HELD = "hourglass_flowing_sand"
QUIET_ENV = {
    "QUIET_HOURS": "08:00-21:00",
    "AUTORESPOND": "off",
    "OPT_IN_TEXT": "",
    "SLACK_MANAGERS": MANAGER,
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(EARLY)


@pytest.fixture
def start(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, clock: FakeClock
) -> Iterator[Callable[..., Bridge]]:
    with bridges(tmp_path, slack, twilio_api, **QUIET_ENV) as boot:

        def started(**env: str) -> Bridge:
            return boot(clock=clock, **env)

        yield started


@pytest.fixture
def bridge(start: Callable[..., Bridge]) -> Bridge:
    return start()


def held_notices(slack: SlackEmulator, user: str) -> list[dict[str, Any]]:
    return [e for e in slack.ephemerals if e["user"] == user and e.get("blocks")]


def told(slack: SlackEmulator, user: str) -> list[str]:
    return [str(e["text"]) for e in slack.ephemerals if e["user"] == user]


def hold(bridge: Bridge, thread: str, user: str = ADMIN, text: str = "Yes, it ships today") -> str:
    """An agent replies during the customer's night; returns the reply's ts once it is held."""
    ts = bridge.reply(thread, user, text)
    bridge.wait_reaction(ts, HELD)
    return ts


def click(bridge: Bridge, action_id: str, reply_ts: str, user: str, thread: str) -> None:
    """A press on the held notice: an ephemeral message, so Slack sends no `message`."""
    with bridge.database() as session:
        reply = session.exec(select(Message).where(Message.slack_ts == reply_ts)).one()
    payload = ephemeral_press(user, action_id, str(reply.id), channel=CHANNEL, thread_ts=thread)
    assert bridge.events.interaction(payload).status_code == 200


def wait_told(bridge: Bridge, user: str, count: int) -> list[str]:
    bridge.slack.wait_for(lambda: len(told(bridge.slack, user)) >= count, timeout=10)
    return told(bridge.slack, user)


def release(bridge: Bridge, clock: FakeClock, at: datetime = EIGHT_IN_LA) -> None:
    """Time passes; a text wakes the worker rather than waiting for its next poll."""
    clock.current = at
    bridge.text("thanks")


def settle() -> None:
    """Long enough for a worker that had something to do to have done it."""
    time.sleep(1.5)


def test_a_reply_at_night_is_held_and_goes_at_eight_their_time(
    bridge: Bridge, clock: FakeClock
) -> None:
    thread = bridge.thread()
    ts = hold(bridge, thread)
    [notice] = held_notices(bridge.slack, ADMIN)
    assert notice["text"] == (
        "Held: it's 5:02 AM for this customer (America/Los_Angeles). "
        "It will go at 8:00 AM their time, in 2 h 58 min."
    )
    actions = next(b for b in notice["blocks"] if b["type"] == "actions")["elements"]
    assert [a["action_id"] for a in actions] == [SEND_HELD_NOW, CANCEL_HELD]
    settle()
    assert bridge.sent_bodies() == []

    clock.current = datetime(2026, 1, 12, 15, 59, tzinfo=UTC)
    bridge.text("still there?")
    settle()
    assert bridge.sent_bodies() == []

    release(bridge, clock)
    bridge.wait_sent(1)
    bridge.wait_reaction(ts, "incoming_envelope")
    settle()
    assert bridge.sent_bodies() == ["Yes, it ships today"]
    assert HELD not in bridge.slack.reactions(CHANNEL, ts)
    decisions = [a.decision for a in bridge.audit()]
    assert decisions == ["held", "accepted", "sent"]


def test_the_header_says_it_is_quiet_hours_there(bridge: Bridge) -> None:
    thread = bridge.thread()
    header = bridge.slack.message(CHANNEL, thread)
    assert header is not None
    assert "Local time 5:02 AM PST (America/Los_Angeles) · quiet hours" in header["text"]


def test_send_now_sends_at_once_and_is_recorded(bridge: Bridge) -> None:
    thread = bridge.thread()
    ts = hold(bridge, thread)
    click(bridge, SEND_HELD_NOW, ts, ADMIN, thread)
    bridge.wait_sent(1)
    bridge.wait_reaction(ts, "incoming_envelope")
    assert "Sending now, outside their quiet hours" in wait_told(bridge, ADMIN, 2)[-1]
    [override] = [a for a in bridge.audit() if a.decision == "send-now"]
    assert override.author == ADMIN


def test_only_the_author_or_an_owner_or_admin_may_press(bridge: Bridge, clock: FakeClock) -> None:
    thread = bridge.thread()
    ts = hold(bridge, thread, user=MANAGER)
    click(bridge, SEND_HELD_NOW, ts, MEMBER, thread)
    assert "Only the reply's author" in wait_told(bridge, MEMBER, 1)[-1]
    click(bridge, CANCEL_HELD, ts, MEMBER, thread)
    wait_told(bridge, MEMBER, 2)
    settle()
    assert bridge.sent_bodies() == []
    click(bridge, SEND_HELD_NOW, ts, OWNER, thread)
    bridge.wait_sent(1)
    [override] = [a for a in bridge.audit() if a.decision == "send-now"]
    assert override.author == OWNER


def test_cancel_stops_it_for_good_and_a_later_press_changes_nothing(
    bridge: Bridge, clock: FakeClock
) -> None:
    thread = bridge.thread()
    ts = hold(bridge, thread)
    click(bridge, CANCEL_HELD, ts, ADMIN, thread)
    assert "Cancelled" in wait_told(bridge, ADMIN, 2)[-1]
    bridge.slack.wait_for(lambda: HELD not in bridge.slack.reactions(CHANNEL, ts), timeout=10)
    click(bridge, SEND_HELD_NOW, ts, ADMIN, thread)
    assert wait_told(bridge, ADMIN, 3)[-1] == "Nothing changed: it was cancelled."
    release(bridge, clock)
    settle()
    assert bridge.sent_bodies() == []
    assert [a.decision for a in bridge.audit()] == ["held", "cancelled"]


def test_a_press_after_it_went_answers_with_its_state(bridge: Bridge, clock: FakeClock) -> None:
    thread = bridge.thread()
    ts = hold(bridge, thread)
    release(bridge, clock)
    bridge.wait_reaction(ts, "incoming_envelope")
    click(bridge, CANCEL_HELD, ts, ADMIN, thread)
    assert wait_told(bridge, ADMIN, 2)[-1] == "Nothing changed: it was already sent."
    assert bridge.sent_bodies() == ["Yes, it ships today"]


def test_editing_a_held_reply_changes_what_goes(bridge: Bridge, clock: FakeClock) -> None:
    thread = bridge.thread()
    ts = hold(bridge, thread)
    stored = bridge.slack.message(CHANNEL, ts)
    assert stored is not None
    edited = bridge.events.changed_event(CHANNEL, stored, text="It ships tomorrow")
    assert bridge.events.send_event(edited).status_code == 200
    release(bridge, clock)
    bridge.wait_sent(1)
    assert bridge.sent_bodies() == ["It ships tomorrow"]


def test_deleting_a_held_reply_cancels_it(bridge: Bridge, clock: FakeClock) -> None:
    thread = bridge.thread()
    ts = hold(bridge, thread)
    stored = bridge.slack.message(CHANNEL, ts)
    assert stored is not None
    assert bridge.events.send_event(bridge.events.deleted_event(CHANNEL, stored)).status_code == 200
    release(bridge, clock)
    settle()
    assert bridge.sent_bodies() == []


def test_stop_while_held_drops_it_and_the_thread_is_told(bridge: Bridge, clock: FakeClock) -> None:
    thread = bridge.thread()
    ts = hold(bridge, thread)
    bridge.text("STOP")
    bridge.wait_reaction(ts, "no_entry_sign")
    note = "held for quiet hours was not sent: the customer unsubscribed meanwhile."
    bridge.slack.wait_for(lambda: any(note in t for t in texts_in(bridge.slack, thread)), 10)
    release(bridge, clock)
    settle()
    assert bridge.sent_bodies() == []


def test_a_role_revoked_while_held_stops_it(
    bridge: Bridge, slack: SlackEmulator, clock: FakeClock
) -> None:
    thread = bridge.thread()
    ts = hold(bridge, thread)
    slack.users[ADMIN]["is_admin"] = False
    release(bridge, clock)
    bridge.wait_reaction(ts, "no_entry_sign")
    note = "held for quiet hours was not sent: its author may no longer text customers."
    bridge.slack.wait_for(lambda: any(note in t for t in texts_in(bridge.slack, thread)), 10)
    assert bridge.sent_bodies() == []


def test_a_held_reply_survives_a_restart_and_goes_once(
    start: Callable[..., Bridge], clock: FakeClock
) -> None:
    first = start()
    thread = first.thread()
    hold(first, thread)
    first.app.stop()
    clock.current = EIGHT_IN_LA
    second = start()
    second.wait_sent(1)
    settle()
    assert second.sent_bodies() == ["Yes, it ships today"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_on_one_database_release_it_once(
    start: Callable[..., Bridge], clock: FakeClock, tmp_path: Path, backend: str
) -> None:
    with _database(backend, tmp_path) as url:
        one = start(DATABASE_URL=url)
        two = start(DATABASE_URL=url)
        thread = one.thread()
        hold(one, thread)
        clock.current = EIGHT_IN_LA
        one.text("thanks")
        two.text("hello?")
        one.wait_sent(1)
        time.sleep(3)  # both workers poll at least once more
        assert one.sent_bodies() == ["Yes, it ships today"]


def test_a_held_reply_does_not_hold_back_later_texts_or_answers(bridge: Bridge) -> None:
    thread = bridge.thread()
    hold(bridge, thread)
    bridge.text("HELP")
    bridge.text("Another question")
    bridge.slack.wait_for(lambda: "Another question" in texts_in(bridge.slack, thread), 10)


def test_set_time_zone_is_checked_recorded_and_re_times_held_replies(
    bridge: Bridge, slack: SlackEmulator
) -> None:
    thread = bridge.thread()
    ts = hold(bridge, thread)
    with bridge.database() as session:
        contact = session.exec(select(Contact)).one()
    click_header = {
        "type": "block_actions",
        "user": {"id": ADMIN},
        "trigger_id": "9.8.7",
        "container": {"type": "message", "channel_id": CHANNEL, "message_ts": thread},
        "channel": {"id": CHANNEL},
        "message": {"type": "message", "ts": thread, "text": ""},
        "actions": [{"type": "button", "action_id": SET_TIMEZONE, "value": str(contact.id)}],
    }
    assert bridge.events.interaction(click_header).status_code == 200
    slack.wait_for(lambda: len(slack.opened) == 1, timeout=10)
    assert slack.opened[0]["trigger_id"] == "9.8.7"

    def submit(user: str, zone: str) -> dict[str, Any]:
        view = dict(slack.opened[0]["view"])
        view["state"] = {"values": {TIMEZONE_BLOCK: {TIMEZONE_INPUT: {"value": zone}}}}
        payload = {"type": "view_submission", "user": {"id": user}, "view": view}
        answer = bridge.events.interaction(payload)
        assert answer.status_code == 200
        return answer.json() if answer.content else {}

    assert (
        "Unknown time zone 'Mars/Olympus'"
        in submit(ADMIN, "Mars/Olympus")["errors"][TIMEZONE_BLOCK]
    )
    assert "Unknown time zone 'EST'" in submit(ADMIN, "EST")["errors"][TIMEZONE_BLOCK]
    assert "Only owners, admins" in submit(MEMBER, "America/New_York")["errors"][TIMEZONE_BLOCK]
    assert submit(ADMIN, "America/New_York") == {}
    # 8:02 a.m. in New York: the held reply goes now, and the header shows the new zone.
    bridge.wait_sent(1)
    bridge.wait_reaction(ts, "incoming_envelope")

    def header_shows_new_york() -> bool:
        header = slack.message(CHANNEL, thread)
        return header is not None and "8:02 AM EST (America/New_York)" in header["text"]

    slack.wait_for(header_shows_new_york, timeout=10)
    with bridge.database() as session:
        [change] = session.exec(select(TimezoneChange)).all()
        assert (change.timezone, change.previous, change.actor) == ("America/New_York", None, ADMIN)
        waiting = select(DeliveryJob).where(DeliveryJob.state == "pending")
        # Only the response-time reminder's timer is left.
        assert [job.lane for job in session.exec(waiting)] == ["timer"]


@contextlib.contextmanager
def _database(backend: str, tmp_path: Path) -> Iterator[str]:
    """The apps' shared database: a SQLite file, or a fresh PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    with postgres_database() as url:
        yield url
