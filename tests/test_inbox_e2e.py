"""Unread, Mark read, claim, take over, resolve and reopen, seen on the thread header."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.inbox_blocks import CLAIM, MARK_READ, RESOLVE
from store.models import InboxAction
from tests.conftest import CHANNEL
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import wait_for_thread
from tests.inbox_helpers import (
    click_header,
    ephemerals_for,
    header,
    header_button,
    inbox_bridge,
)
from tests.live import ADMIN, MEMBER, OWNER, Bridge


@pytest.fixture
def bridge(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> Iterator[Bridge]:
    # Only replies reach Twilio here: automatic texts are the consent tests' business.
    with inbox_bridge(tmp_path, slack, twilio_api, AUTORESPOND="off", OPT_IN_TEXT="") as running:
        yield running


def _value(bridge: Bridge, parent: str, action_id: str) -> str:
    button = header_button(bridge.slack, parent, action_id)
    assert button is not None, header(bridge.slack, parent)
    return str(button["value"])


def test_a_new_text_is_unread_until_an_authorised_agent_replies(bridge: Bridge) -> None:
    parent = bridge.thread()
    bridge.slack.wait_for(lambda: "Unread" in header(bridge.slack, parent), 10)
    assert header_button(bridge.slack, parent, MARK_READ) is not None
    member_reply = bridge.reply(parent, MEMBER, "I'll look into it")
    bridge.wait_reaction(member_reply, "no_entry_sign")
    assert "Unread" in header(bridge.slack, parent)
    bridge.reply(parent, ADMIN, "It ships today!")
    bridge.wait_sent(1)
    bridge.slack.wait_for(lambda: "Unread" not in header(bridge.slack, parent), 10)
    assert header_button(bridge.slack, parent, MARK_READ) is None
    bridge.text("Thanks! One more question")
    bridge.slack.wait_for(lambda: "Unread" in header(bridge.slack, parent), 10)


def test_mark_read_is_for_authorised_agents_only(bridge: Bridge) -> None:
    parent = bridge.thread(subscribed=False)
    bridge.slack.wait_for(lambda: header_button(bridge.slack, parent, MARK_READ) is not None, 10)
    value = _value(bridge, parent, MARK_READ)
    click_header(bridge, parent, MARK_READ, value, MEMBER)
    bridge.slack.wait_for(lambda: bool(ephemerals_for(bridge.slack, MEMBER)), 10)
    assert (
        "Only workspace owners, admins and SMS managers" in ephemerals_for(bridge.slack, MEMBER)[0]
    )
    assert "Unread" in header(bridge.slack, parent)
    click_header(bridge, parent, MARK_READ, value, ADMIN)
    bridge.slack.wait_for(lambda: "Unread" not in header(bridge.slack, parent), 10)
    assert ephemerals_for(bridge.slack, ADMIN) == ["Marked read."]
    assert header_button(bridge.slack, parent, MARK_READ) is None


def test_claim_take_over_resolve_and_a_new_text_reopens_in_a_new_thread(bridge: Bridge) -> None:
    parent = bridge.thread()
    bridge.reply(parent, ADMIN, "Your parcel left today")
    bridge.wait_sent(1)
    bridge.slack.wait_for(lambda: header_button(bridge.slack, parent, CLAIM) is not None, 10)
    value = _value(bridge, parent, CLAIM)
    click_header(bridge, parent, CLAIM, value, ADMIN)
    bridge.slack.wait_for(lambda: f"Claimed by <@{ADMIN}>" in header(bridge.slack, parent), 10)
    button = header_button(bridge.slack, parent, CLAIM)
    assert button is not None and button["text"]["text"] == "Take over"
    click_header(bridge, parent, CLAIM, value, OWNER)
    bridge.slack.wait_for(lambda: f"Claimed by <@{OWNER}>" in header(bridge.slack, parent), 10)
    bridge.slack.wait_for(lambda: bool(ephemerals_for(bridge.slack, OWNER)), 10)
    assert f"took this conversation over from <@{ADMIN}>" in ephemerals_for(bridge.slack, OWNER)[0]
    click_header(bridge, parent, RESOLVE, value, OWNER)
    bridge.slack.wait_for(lambda: f"Resolved by <@{OWNER}>" in header(bridge.slack, parent), 10)
    assert header_button(bridge.slack, parent, CLAIM) is None
    # A stale button (another agent's client still shows it) gets the current state.
    click_header(bridge, parent, CLAIM, value, ADMIN)
    bridge.slack.wait_for(lambda: len(ephemerals_for(bridge.slack, ADMIN)) == 2, 10)
    assert "resolved by" in ephemerals_for(bridge.slack, ADMIN)[1]
    with bridge.database() as session:
        log = session.exec(select(InboxAction).order_by(col(InboxAction.id))).all()
        assert [(a.actor, a.action, a.detail) for a in log] == [
            (ADMIN, "claim", None),
            (OWNER, "claim", ADMIN),
            (OWNER, "resolve", None),
        ]

    bridge.text("Hi again, it never arrived")
    bridge.slack.wait_for(lambda: len(bridge.slack.top_level(CHANNEL)) == 2, 10)
    new_parent = str(bridge.slack.top_level(CHANNEL)[1]["ts"])
    bridge.slack.wait_for(lambda: len(bridge.slack.thread(CHANNEL, new_parent)) == 2, 10)
    shown = header(bridge.slack, new_parent)
    assert "Unread" in shown and "Earlier conversation" in shown
    assert f"https://example.slack.com/archives/{CHANNEL}/p{parent.replace('.', '')}" in shown
    transcript, text = bridge.slack.thread(CHANNEL, new_parent)
    assert text["text"] == "Hi again, it never arrived"
    lines = transcript["text"].splitlines()
    assert "Earlier messages" in lines[0]
    assert "Customer: Hi, is my order on its way?" in lines[1]
    assert f"Agent <@{ADMIN}>: Your parcel left today" in transcript["text"]
    assert "Customer: START" not in transcript["text"]  # keywords are events, not conversation
    assert "Resolved" in header(bridge.slack, parent)  # the old thread stays resolved


def test_with_resolved_new_thread_off_a_text_reopens_the_same_thread(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> None:
    with inbox_bridge(
        tmp_path, slack, twilio_api, RESOLVED_NEW_THREAD="off", AUTORESPOND="off"
    ) as bridge:
        bridge.text("hello")
        [parent] = wait_for_thread(slack, replies=1)
        ts = str(parent["ts"])
        slack.wait_for(lambda: header_button(slack, ts, RESOLVE) is not None, 10)
        click_header(bridge, ts, RESOLVE, _value(bridge, ts, RESOLVE), ADMIN)
        slack.wait_for(lambda: "Resolved by" in header(slack, ts), 10)
        bridge.text("back again")
        slack.wait_for(lambda: "Resolved by" not in header(slack, ts), 10)
        assert len(slack.top_level(CHANNEL)) == 1
        slack.wait_for(lambda: slack.thread(CHANNEL, ts)[-1]["text"] == "back again", 10)
        assert "Unread" in header(slack, ts)
