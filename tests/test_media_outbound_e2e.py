"""End to end: a file an agent shares in a contact's thread goes out as MMS."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import texts_in, wait_for_thread
from tests.live import ADMIN, MEMBER, Bridge, bridges

RECEIPT = b"\xff\xd8\xff\xe0JFIF receipt " * 50


@pytest.fixture
def start(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> Iterator[Callable[..., Bridge]]:
    with bridges(tmp_path, slack, twilio_api, AUTORESPOND="off", OPT_IN_TEXT="") as boot:
        yield boot


@pytest.fixture
def bridge(start: Callable[..., Bridge]) -> Bridge:
    return start()


def _share(bridge: Bridge, thread: str, user: str, text: str, *files: dict[str, Any]) -> str:
    return bridge.reply(thread, user, text, subtype="file_share", files=list(files))


def _told(bridge: Bridge, user: str = ADMIN) -> str:
    bridge.slack.wait_for(lambda: any(e["user"] == user for e in bridge.slack.ephemerals), 10)
    return " ".join(str(e["text"]) for e in bridge.slack.ephemerals if e["user"] == user)


def _fetched(bridge: Bridge, sid: str) -> list[dict[str, Any]]:
    bridge.slack.wait_for(lambda: bridge.twilio_api.media_fetched(sid) is not None, 10)
    fetched = bridge.twilio_api.media_fetched(sid)
    assert fetched is not None
    return fetched


def test_a_shared_picture_goes_out_as_mms_and_twilio_fetches_it_from_us(bridge: Bridge) -> None:
    thread = bridge.thread()
    receipt = bridge.slack.add_file(RECEIPT, "receipt.jpg", "image/jpeg", user=ADMIN)
    ts = _share(bridge, thread, ADMIN, "Here is your receipt", receipt)
    [sms] = bridge.wait_sent(1)
    assert sms["body"] == "Here is your receipt"
    [url] = sms["media_urls"]
    assert url.startswith(f"{bridge.app.url}/media/")
    assert len(url.rpartition("/")[2]) >= 22  # at least 128 random bits
    [got] = _fetched(bridge, sms["sid"])
    assert (got["status"], got["content_type"], got["content"]) == (200, "image/jpeg", RECEIPT)
    # We fetched the agent's file from Slack with the bot token, and only that.
    [download] = bridge.slack.calls_to("files.download")
    assert download.headers["authorization"] == "Bearer xoxb-test"
    bridge.wait_reaction(ts, "incoming_envelope")
    assert "On its way by MMS" in _told(bridge)


def test_a_picture_without_text_goes_alone(bridge: Bridge) -> None:
    thread = bridge.thread()
    coupon = bridge.slack.add_file(b"GIF89a coupon", "coupon.gif", "image/gif", user=ADMIN)
    _share(bridge, thread, ADMIN, "", coupon)
    [sms] = bridge.wait_sent(1)
    assert sms["body"] == "" and len(sms["media_urls"]) == 1
    assert _fetched(bridge, sms["sid"])[0]["content"] == b"GIF89a coupon"


def test_a_type_mms_cannot_carry_is_refused_with_the_reason_and_the_text_goes(
    bridge: Bridge,
) -> None:
    thread = bridge.thread()
    archive = bridge.slack.add_file(b"PK\x03\x04", "invoices.zip", "application/zip", user=ADMIN)
    _share(bridge, thread, ADMIN, "Invoices attached", archive)
    [sms] = bridge.wait_sent(1)
    assert (sms["body"], sms["media_urls"]) == ("Invoices attached", [])
    told = _told(bridge)
    assert "invoices.zip was not sent" in told and "application/zip" in told and "JPEG" in told


def test_a_pdf_goes_but_the_agent_hears_where_it_falls_back(bridge: Bridge) -> None:
    thread = bridge.thread()
    pdf = bridge.slack.add_file(b"%PDF-1.4 small", "label.pdf", "application/pdf", user=ADMIN)
    _share(bridge, thread, ADMIN, "Return label", pdf)
    [sms] = bridge.wait_sent(1)
    assert len(sms["media_urls"]) == 1
    assert "only as a link" in _told(bridge)


def test_a_picture_over_5_mb_is_refused(bridge: Bridge) -> None:
    thread = bridge.thread()
    big = bridge.slack.add_file(b"\xff" * (5 * 1024 * 1024 + 1), "big.png", "image/png", user=ADMIN)
    _share(bridge, thread, ADMIN, "Big picture", big)
    [sms] = bridge.wait_sent(1)
    assert sms["media_urls"] == []
    assert "larger than MMS's 5 MB" in _told(bridge)
    assert bridge.slack.calls_to("files.download") == []


def test_a_customer_abroad_gets_the_text_and_the_agent_hears_why_not_the_file(
    bridge: Bridge,
) -> None:
    bridge.text("Hello from London", sender="+447700900123")
    bridge.text("START", sender="+447700900123")
    [parent] = wait_for_thread(bridge.slack, replies=2)
    photo = bridge.slack.add_file(b"\x89PNG", "photo.png", "image/png", user=ADMIN)
    _share(bridge, str(parent["ts"]), ADMIN, "See attached", photo)
    [sms] = bridge.wait_sent(1)
    assert sms["media_urls"] == []
    assert "only US and Canadian" in _told(bridge) and "(GB)" in _told(bridge)


def test_a_member_sharing_a_file_is_refused_like_a_text(bridge: Bridge) -> None:
    thread = bridge.thread()
    photo = bridge.slack.add_file(b"\x89PNG", "photo.png", "image/png", user=MEMBER)
    ts = _share(bridge, thread, MEMBER, "", photo)
    bridge.wait_reaction(ts, "no_entry_sign")
    assert bridge.twilio_api.sent == []
    assert bridge.slack.calls_to("files.download") == []


def test_a_media_link_stops_working_for_a_bad_or_unknown_token(bridge: Bridge) -> None:
    for token in ("nope", "A" * 43, "A" * 42 + "%00", "A" * 500):
        answer = httpx.get(f"{bridge.app.url}/media/{token}")
        assert (answer.status_code, answer.content) == (404, b"")


def test_a_file_alone_that_cannot_go_sends_nothing_and_says_so(bridge: Bridge) -> None:
    thread = bridge.thread()
    archive = bridge.slack.add_file(b"PK\x03\x04", "photos.zip", "application/zip", user=ADMIN)
    ts = _share(bridge, thread, ADMIN, "", archive)
    bridge.wait_reaction(ts, "x")
    assert bridge.twilio_api.sent == []
    assert "photos.zip was not sent" in _told(bridge)
    bridge.slack.wait_for(
        lambda: any("Nothing was sent" in t for t in texts_in(bridge.slack, thread)), 10
    )


def test_a_note_is_said_once_even_when_twilio_asks_to_wait(bridge: Bridge) -> None:
    thread = bridge.thread()
    bridge.twilio_api.fail("messages.create", status=429, retry_after=1)
    ts = bridge.reply(thread, ADMIN, "A long one: " + "word " * 40 + ":tada:")
    bridge.wait_reaction(ts, "incoming_envelope")
    assert len(bridge.twilio_api.calls_to("messages.create")) == 2
    assert [e["text"].count("SMS segments") for e in bridge.slack.ephemerals] == [1]
