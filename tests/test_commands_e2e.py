"""`/sms`: inbox, find, stats and help, answered only to who asked; refusals by role."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import wait_for_thread
from tests.inbox_helpers import answer, inbox_bridge, name_contact, slash
from tests.live import ADMIN, ALICE, GUEST, MANAGER, MEMBER, Bridge

BOB = "+14155550101"


@pytest.fixture
def bridge(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> Iterator[Bridge]:
    env = {"AUTORESPOND": "off", "OPT_IN_TEXT": "", "SLACK_MANAGERS": MANAGER}
    with inbox_bridge(tmp_path, slack, twilio_api, clock=None, **env) as running:
        yield running


def test_help_and_unknown_subcommands_list_what_there_is(bridge: Bridge) -> None:
    shown = answer(slash(bridge, MEMBER, "help"))
    assert "/sms find <number or name>" in shown and "/sms stats [7d]" in shown
    assert answer(slash(bridge, MEMBER, "")) == shown
    assert "I do not know `frobnicate`" in answer(slash(bridge, MEMBER, "frobnicate"))


def test_inbox_lists_conversations_for_authorised_roles_only(bridge: Bridge) -> None:
    bridge.text("first", sender=ALICE)
    bridge.text("second", sender=BOB)
    wait_for_thread(bridge.slack, replies=2, parents=2)
    shown = answer(slash(bridge, MANAGER, "inbox"))
    assert shown.index("second") < shown.index("first")
    assert "Open thread" in shown
    for user in (MEMBER, GUEST):
        refused = answer(slash(bridge, user, "inbox"))
        assert "Only workspace owners, admins and SMS managers" in refused
        assert "first" not in refused


def test_find_by_number_or_name_shows_thread_consent_and_local_time(bridge: Bridge) -> None:
    bridge.text("Where is my parcel?", sender=ALICE)
    bridge.text("START", sender=ALICE)
    wait_for_thread(bridge.slack, replies=2)
    name_contact(bridge, ALICE, "Alice Doe")
    for query in ("(415) 555-0100", "+1 415 555 0100", "alice"):
        shown = answer(slash(bridge, ADMIN, f"find {query}"))
        assert "*Alice Doe*" in shown, query
        assert "Subscribed" in shown and ":clock3:" in shown and "Open thread" in shown
    assert "No conversation with +14155550199" in answer(slash(bridge, ADMIN, "find 415 555 0199"))
    assert "No conversation with a name containing “zed”" in answer(
        slash(bridge, ADMIN, "find zed")
    )
    assert "Only workspace owners" in answer(slash(bridge, MEMBER, "find alice"))


def test_find_with_a_malformed_number_explains_what_to_type(bridge: Bridge) -> None:
    shown = answer(slash(bridge, ADMIN, "find 415-55x"))
    assert "“415-55x” is not a phone number I can read" in shown
    assert "+1 415 555 0100" in shown
    assert "Tell me whom to find" in answer(slash(bridge, ADMIN, "find"))


def test_stats_count_conversations_first_responses_and_overdue(bridge: Bridge) -> None:
    parent = bridge.thread()
    bridge.text("anyone?", sender=BOB)
    bridge.reply(parent, ADMIN, "Yes, it ships today")
    bridge.wait_sent(1)
    bridge.slack.wait_for(lambda: "1 answered" in answer(slash(bridge, MEMBER, "stats 7d")), 10)
    shown = answer(slash(bridge, MEMBER, "stats"))
    assert "last 7d" in shown
    assert "Conversations started: 2" in shown
    assert "Median first response:" in shown and "(1 answered)" in shown
    assert "Overdue now (waiting over 60 min): 0" in shown
    assert "not a period" in answer(slash(bridge, MEMBER, "stats forever"))


def test_a_forged_command_is_refused(bridge: Bridge) -> None:
    response = slash(bridge, ADMIN, "inbox", signature="v0=" + "0" * 64)
    assert response.status_code == 401
