"""End to end: Twilio's status callbacks show on the reply in Slack, one reaction per state."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.models import ChannelPace
from tests.conftest import ACCOUNT_SID, BUSINESS, CHANNEL
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import texts_in
from tests.live import ADMIN, ALICE, Bridge, bridges

STATUS_REACTIONS = {
    "outbox_tray",
    "incoming_envelope",
    "heavy_check_mark",
    "white_check_mark",
    "eyes",
    "warning",
    "x",
}


@pytest.fixture
def bridge(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> Iterator[Bridge]:
    with bridges(tmp_path, slack, twilio_api, AUTORESPOND="off", OPT_IN_TEXT="") as boot:
        yield boot()


def _sent_reply(bridge: Bridge, text: str = "Your parcel ships today") -> tuple[str, str, str]:
    thread = bridge.thread()
    ts = bridge.reply(thread, ADMIN, text)
    [sms] = bridge.wait_sent(1)
    bridge.wait_reaction(ts, "incoming_envelope")
    return thread, ts, str(sms["sid"])


def _shows(bridge: Bridge, ts: str, name: str) -> None:
    """The reply shows `name` and no other status reaction."""
    bridge.slack.wait_for(
        lambda: [r for r in bridge.slack.reactions(CHANNEL, ts) if r in STATUS_REACTIONS] == [name],
        timeout=10,
    )


def test_each_state_replaces_the_previous_reaction(bridge: Bridge) -> None:
    _, ts, sid = _sent_reply(bridge)
    _shows(bridge, ts, "incoming_envelope")  # queued at Twilio
    for status, reaction in (
        ("sent", "heavy_check_mark"),
        ("delivered", "white_check_mark"),
        ("read", "eyes"),
    ):
        assert bridge.twilio_api.report_status(sid, status) == 204
        _shows(bridge, ts, reaction)


def test_late_and_repeated_callbacks_never_move_a_reply_back(bridge: Bridge) -> None:
    _, ts, sid = _sent_reply(bridge)
    assert bridge.twilio_api.report_status(sid, "delivered") == 204
    _shows(bridge, ts, "white_check_mark")
    for late in ("sent", "queued", "delivered", "sending"):
        assert bridge.twilio_api.report_status(sid, late) == 204
    # A later callback that does move it shows, so the late ones were handled before it.
    assert bridge.twilio_api.report_status(sid, "read") == 204
    _shows(bridge, ts, "eyes")
    removed = [c.params["name"] for c in bridge.slack.calls_to("reactions.remove")]
    assert removed == ["outbox_tray", "incoming_envelope", "white_check_mark"]


def test_an_undelivered_reply_says_why_in_the_thread(bridge: Bridge) -> None:
    thread, ts, sid = _sent_reply(bridge)
    assert bridge.twilio_api.report_status(sid, "sent") == 204
    assert bridge.twilio_api.report_status(sid, "undelivered", error_code=30003) == 204
    _shows(bridge, ts, "warning")
    bridge.slack.wait_for(
        lambda: any("Not delivered by SMS" in t for t in texts_in(bridge.slack, thread)), 10
    )
    [note] = [t for t in texts_in(bridge.slack, thread) if "Not delivered" in t]
    assert "unreachable" in note and "30003" in note and "Try again later" in note
    # Twilio repeats the callback: still one note.
    assert bridge.twilio_api.report_status(sid, "undelivered", error_code=30003) == 204
    assert bridge.twilio_api.report_status(sid, "failed", error_code=30003) == 204
    bridge.text("are you there?")
    bridge.slack.wait_for(lambda: any("are you there" in t for t in texts_in(bridge.slack, thread)))
    assert sum("Not delivered" in t for t in texts_in(bridge.slack, thread)) == 1


def test_a_failed_reply_shows_a_cross_and_the_unregistered_number_code(bridge: Bridge) -> None:
    thread, ts, sid = _sent_reply(bridge)
    assert bridge.twilio_api.report_status(sid, "failed", error_code=30034) == 204
    _shows(bridge, ts, "x")
    bridge.slack.wait_for(lambda: any("A2P 10DLC" in t for t in texts_in(bridge.slack, thread)), 10)


def test_forged_and_unknown_callbacks(bridge: Bridge) -> None:
    _, ts, sid = _sent_reply(bridge)
    callback = {
        "AccountSid": ACCOUNT_SID,
        "MessageSid": sid,
        "MessageStatus": "failed",
        "To": ALICE,
        "From": BUSINESS,
    }
    forged = bridge.phone.send(callback, path="/twilio/status", signature="forged")
    assert forged.status_code == 403
    unknown = bridge.phone.send({**callback, "MessageSid": "SM" + "f" * 32}, path="/twilio/status")
    assert unknown.status_code == 200
    assert bridge.twilio_api.report_status(sid, "delivered") == 204
    _shows(bridge, ts, "white_check_mark")  # the forged "failed" changed nothing


def test_a_long_or_emoji_reply_says_how_many_segments_it_costs(bridge: Bridge) -> None:
    thread = bridge.thread()
    bridge.reply(thread, ADMIN, "Short and plain")
    bridge.wait_sent(1)
    bridge.reply(thread, ADMIN, "Thanks for waiting! " * 4 + ":tada:")
    bridge.wait_sent(2)
    bridge.slack.wait_for(lambda: len(bridge.slack.ephemerals) == 1, 10)
    [told] = bridge.slack.ephemerals
    assert "2 SMS segments" in told["text"] and "UCS-2" in told["text"]


def test_a_queue_overflow_slows_sends_from_that_number(bridge: Bridge) -> None:
    """30001: Twilio dropped the reply as its queue for our number was full: send slower."""
    thread, ts, sid = _sent_reply(bridge)
    assert bridge.twilio_api.report_status(sid, "failed", error_code=30001) == 204
    _shows(bridge, ts, "x")
    bridge.slack.wait_for(lambda: any("30001" in t for t in texts_in(bridge.slack, thread)), 10)
    [note] = [t for t in texts_in(bridge.slack, thread) if "30001" in t]
    assert "queue" in note and "send it again in a few minutes" in note
    # The number's budget is paused for every process, so the next reply waits its turn.
    bridge.reply(thread, ADMIN, "Trying again")
    time.sleep(2)
    assert len(bridge.twilio_api.sent) == 1
    with bridge.database() as session:
        paced = session.get(ChannelPace, f"sms:{BUSINESS}")
    assert paced is not None and paced.paused_until is not None
    assert paced.paused_until > time.time() + 50
