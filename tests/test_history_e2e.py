"""A new thread shows earlier messages: ours and Twilio's log, campaigns marked automated."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import BUSINESS, CHANNEL
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import wait_for_thread
from tests.inbox_helpers import header, inbox_bridge
from tests.live import ALICE, Bridge

BOB = "+14155550101"


@pytest.fixture
def bridge(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> Iterator[Bridge]:
    with inbox_bridge(tmp_path, slack, twilio_api, AUTORESPOND="off", OPT_IN_TEXT="") as running:
        yield running


def test_twilio_log_history_is_posted_oldest_first_with_campaigns_marked(
    bridge: Bridge, twilio_api: TwilioEmulator
) -> None:
    now = datetime.now(UTC)
    twilio_api.seed_message(
        to=BUSINESS, from_=ALICE, body="Do you ship to Canada?", date_sent=now - timedelta(days=3)
    )
    twilio_api.seed_message(
        to=ALICE,
        from_=BUSINESS,
        body="BLACK FRIDAY: 20% off everything <today>",
        direction="outbound-api",
        date_sent=now - timedelta(days=1),
    )
    # Someone else's messages and another business number are not this contact's history.
    twilio_api.seed_message(to=BUSINESS, from_=BOB, body="Bob's question", date_sent=now)
    twilio_api.seed_message(to="+15550009999", from_=ALICE, body="other line", date_sent=now)
    bridge.text("I got your sale text, is it still on?")
    [parent] = wait_for_thread(bridge.slack, replies=2)
    transcript, text = bridge.slack.thread(CHANNEL, parent["ts"])
    assert text["text"] == "I got your sale text, is it still on?"
    lines = transcript["text"].splitlines()
    assert "Earlier messages" in lines[0] and "(2, oldest first)" in lines[0]
    assert "Customer: Do you ship to Canada?" in lines[1]
    assert "Automated: BLACK FRIDAY: 20% off everything &lt;today&gt;" in lines[2]
    assert "Bob" not in transcript["text"] and "other line" not in transcript["text"]
    listed = twilio_api.calls_to("messages.list")
    assert {(c.params.get("From"), c.params.get("To")) for c in listed} == {
        (ALICE, BUSINESS),
        (BUSINESS, ALICE),
    }


def test_a_first_conversation_without_history_posts_no_transcript(bridge: Bridge) -> None:
    bridge.text("hello")
    [parent] = wait_for_thread(bridge.slack, replies=1)
    assert [m["text"] for m in bridge.slack.thread(CHANNEL, parent["ts"])] == ["hello"]
    assert "could not be loaded" not in header(bridge.slack, parent["ts"])


def test_when_twilio_log_is_unavailable_the_thread_says_so(
    bridge: Bridge, twilio_api: TwilioEmulator
) -> None:
    twilio_api.fail("messages.list", status=500, times=10)
    bridge.text("hello")
    [parent] = wait_for_thread(bridge.slack, replies=1)
    assert [m["text"] for m in bridge.slack.thread(CHANNEL, parent["ts"])] == ["hello"]
    assert "Earlier messages from Twilio's log could not be loaded." in header(
        bridge.slack, parent["ts"]
    )
