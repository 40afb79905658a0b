"""The App Home tab: the inbox list, newest first, unread, read-only for members, live."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.home_blocks import READ_DOT, UNREAD_DOT
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import wait_for_thread
from tests.inbox_helpers import home_rows, home_text, inbox_bridge, name_contact, open_home
from tests.live import ADMIN, ALICE, MEMBER, Bridge

BOB, CARA, DAN = "+14155550101", "+442079460000", "+14155550103"


@pytest.fixture
def bridge(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> Iterator[Bridge]:
    with inbox_bridge(tmp_path, slack, twilio_api, AUTORESPOND="off") as running:
        yield running


def test_home_lists_the_latest_conversations_newest_first(bridge: Bridge) -> None:
    bridge.text("Is the shop open?", sender=ALICE)
    bridge.text("<@U0EVIL> & <!channel> refund?", sender=BOB)
    bridge.text("STOP", sender=DAN)  # a keyword alone is not a conversation
    bridge.text("Hello from London", sender=CARA)
    wait_for_thread(bridge.slack, replies=3, parents=3)
    name_contact(bridge, ALICE, "Alice Doe")
    open_home(bridge, ADMIN)
    bridge.slack.wait_for(lambda: len(home_rows(bridge.slack, ADMIN)) >= 3, 10)
    rows = home_rows(bridge.slack, ADMIN)
    people = [row for row in rows if row.startswith((UNREAD_DOT, READ_DOT))]
    assert len(people) == 3
    assert "+44 20 7946 0000" in people[0] and "Hello from London" in people[0]
    assert "+1 415-555-0101" in people[1]
    assert "&lt;@U0EVIL&gt; &amp; &lt;!channel&gt; refund?" in people[1]
    assert "*Alice Doe*" in people[2] and "+1 415-555-0100" in people[2]
    assert all(row.startswith(UNREAD_DOT) for row in people)
    shown = home_text(bridge.slack, ADMIN)
    assert "Never subscribed" in shown and "Read-only" not in shown
    assert shown.count("|Open thread>") == 3
    assert "https://example.slack.com/archives/C0INBOX/p" in shown


def test_members_see_the_inbox_read_only_and_why(bridge: Bridge) -> None:
    bridge.text("hello", sender=ALICE)
    wait_for_thread(bridge.slack, replies=1)
    open_home(bridge, MEMBER)
    bridge.slack.wait_for(lambda: MEMBER in bridge.slack.views, 10)
    shown = home_text(bridge.slack, MEMBER)
    assert "Read-only: only workspace owners, admins and SMS managers" in shown
    assert "hello" in shown


def test_an_open_home_tab_is_republished_when_a_text_arrives(bridge: Bridge) -> None:
    bridge.text("first", sender=ALICE)
    wait_for_thread(bridge.slack, replies=1)
    open_home(bridge, ADMIN)
    bridge.slack.wait_for(lambda: "first" in home_text(bridge.slack, ADMIN), 10)
    bridge.text("second, from Bob", sender=BOB)
    bridge.slack.wait_for(lambda: "second, from Bob" in home_text(bridge.slack, ADMIN), 15)
    people = [r for r in home_rows(bridge.slack, ADMIN) if r.startswith(UNREAD_DOT)]
    assert "second, from Bob" in people[0] and "first" in people[1]


def test_an_empty_inbox_says_so(bridge: Bridge) -> None:
    open_home(bridge, ADMIN)
    bridge.slack.wait_for(lambda: ADMIN in bridge.slack.views, 10)
    assert "No conversations yet" in home_text(bridge.slack, ADMIN)
    assert bridge.slack.views[ADMIN]["type"] == "home"


def test_a_failed_republish_is_tried_again(bridge: Bridge) -> None:
    bridge.text("first", sender=ALICE)
    wait_for_thread(bridge.slack, replies=1)
    open_home(bridge, ADMIN)
    bridge.slack.wait_for(lambda: "first" in home_text(bridge.slack, ADMIN), 10)
    bridge.slack.fail("views.publish", error="internal_error", times=1)
    bridge.text("while Slack hiccups", sender=BOB)
    bridge.slack.wait_for(lambda: "while Slack hiccups" in home_text(bridge.slack, ADMIN), 20)
    assert len(bridge.slack.calls_to("views.publish")) >= 3
