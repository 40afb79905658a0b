"""The Slack poster against the emulator, through the real slack_sdk WebClient."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.poster import SlackPoster, make_client
from bridge.cards import CustomerText, ThreadEvent
from bridge.ids import ChannelId, SlackTs
from bridge.ports import ChatPost, ChatUnavailable
from tests.emulators import SlackEmulator

C = ChannelId("C0INBOX")
NOW = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)


def poster(slack: SlackEmulator, rate: float = 100.0, burst: int = 100) -> SlackPoster:
    client = make_client(token="xoxb-test", base_url=slack.url, timeout=5)
    return SlackPoster(client, rate=rate, burst=burst)


def text(key: str, thread_ts: str | None = None) -> ChatPost:
    ts = SlackTs(thread_ts) if thread_ts else None
    return ChatPost(C, CustomerText("hello", NOW, 0), key=key, thread_ts=ts)


def test_posts_carry_their_key_and_can_be_found_again(slack: SlackEmulator) -> None:
    sink = poster(slack)
    parent = sink.post(text("thread:1"))
    reply = sink.post(text("message:1", parent))
    assert sink.find(C, "thread:1", thread_ts=None, since=NOW) == parent
    assert sink.find(C, "message:1", thread_ts=parent, since=NOW) == reply
    assert sink.find(C, "message:2", thread_ts=parent, since=NOW) is None


def test_rate_limits_are_definite_with_retry_after(slack: SlackEmulator) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(ChatUnavailable) as raised:
        poster(slack).post(text("k"))
    assert raised.value.retry_after == 7 and not raised.value.uncertain


def test_server_errors_and_lost_answers_are_uncertain(slack: SlackEmulator) -> None:
    sink = poster(slack)
    slack.fail("chat.postMessage", status=503)
    with pytest.raises(ChatUnavailable) as raised:
        sink.post(text("a"))
    assert raised.value.uncertain
    # The connection drops after Slack posted: no blind retry may post it a second time.
    slack.fail("chat.postMessage", status=0, effect=True)
    with pytest.raises(ChatUnavailable) as dropped:
        sink.post(text("b"))
    assert dropped.value.uncertain
    assert len(slack.top_level(C)) == 1


def test_configuration_errors_are_flagged(slack: SlackEmulator) -> None:
    slack.not_in_channels.add(C)
    with pytest.raises(ChatUnavailable) as raised:
        poster(slack).post(text("k"))
    assert raised.value.configuration and raised.value.reason == "not_in_channel"
    slack.not_in_channels.clear()
    slack.token = "xoxb-rotated"
    with pytest.raises(ChatUnavailable) as revoked:
        poster(slack).post(text("k"))
    assert revoked.value.configuration and "xoxb" not in revoked.value.reason


def test_refused_blocks_fall_back_to_text(slack: SlackEmulator) -> None:
    slack.fail("chat.postMessage", error="invalid_blocks")
    ts = poster(slack).post(ChatPost(C, ThreadEvent("Texted STOP", NOW), key="k"))
    message = slack.message(C, ts)
    assert message is not None and "Texted STOP" in message["text"]


def test_posts_to_a_channel_keep_to_the_rate(slack: SlackEmulator) -> None:
    sink = poster(slack, rate=20.0, burst=2)
    for n in range(6):
        sink.post(text(f"k{n}"))
    times = [call.at for call in slack.calls_to("chat.postMessage")]
    # Two at once, then one every 1/20 s: four waits of at least 50 ms.
    assert times[-1] - times[0] >= 4 / 20 - 0.01
