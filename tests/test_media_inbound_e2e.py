"""End to end: a customer's MMS pictures are fetched from Twilio and uploaded into the thread."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ACCOUNT_SID, BUSINESS, CHANNEL
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import texts_in, wait_for_thread
from tests.live import ALICE, Bridge, bridges

PNG = b"\x89PNG\r\n\x1a\n" + b"parcel-damage" * 100
VCARD = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Alice\r\nEND:VCARD\r\n"


@pytest.fixture
def bridge(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> Iterator[Bridge]:
    with bridges(tmp_path, slack, twilio_api, AUTORESPOND="off", OPT_IN_TEXT="") as boot:
        yield boot()


def _mms(bridge: Bridge, body: str, media: list[tuple[bytes, str]]) -> dict[str, str]:
    params = bridge.twilio_api.inbound_mms(from_=ALICE, to=BUSINESS, body=body, media=media)
    assert bridge.phone.send(params).status_code == 200
    return params


def _uploads(slack: SlackEmulator, thread: str) -> list[dict[str, Any]]:
    return [f for m in slack.thread(CHANNEL, thread) for f in m.get("files", [])]


def _wait_uploads(slack: SlackEmulator, count: int) -> list[dict[str, Any]]:
    def done() -> bool:
        top = slack.top_level(CHANNEL)
        return bool(top) and len(_uploads(slack, top[0]["ts"])) >= count

    slack.wait_for(done, timeout=15)
    return _uploads(slack, slack.top_level(CHANNEL)[0]["ts"])


def test_a_photo_is_fetched_through_twilios_redirect_and_shown_in_the_thread(
    bridge: Bridge,
) -> None:
    params = _mms(bridge, "The parcel arrived like this", [(PNG, "image/png")])
    [upload] = _wait_uploads(bridge.slack, 1)
    assert bridge.slack.file_content(upload["id"]) == PNG
    assert upload["name"].endswith(".png") and upload["title"] == "Picture from the customer"
    [parent] = bridge.slack.top_level(CHANNEL)
    assert "The parcel arrived like this" in texts_in(bridge.slack, parent["ts"])[0]
    # Twilio's media URL, with our credentials, then the CDN it redirected to, without them.
    [media_call] = bridge.twilio_api.calls_to("media")
    assert media_call.method == params["MediaUrl0"].removeprefix(bridge.twilio_api.origin)
    assert media_call.headers["authorization"].startswith("Basic ")
    [cdn_call] = bridge.twilio_api.calls_to("media.cdn")
    assert "authorization" not in cdn_call.headers
    flow = [c.kind for c in bridge.slack.calls if c.kind.startswith("files.")]
    assert flow == ["files.getUploadURLExternal", "files.upload", "files.completeUploadExternal"]
    complete = bridge.slack.calls_to("files.completeUploadExternal")[0].params
    assert (complete["channel_id"], complete["thread_ts"]) == (CHANNEL, parent["ts"])


def test_files_slack_cannot_preview_still_upload(bridge: Bridge) -> None:
    _mms(bridge, "", [(VCARD, "text/vcard"), (b"ID3audio", "audio/mpeg")])
    uploads = _wait_uploads(bridge.slack, 2)
    assert [u["name"].rpartition(".")[2] for u in uploads] == ["vcf", "mp3"]
    assert [bridge.slack.file_content(u["id"]) for u in uploads] == [VCARD, b"ID3audio"]


def test_a_media_url_outside_twilio_is_not_fetched_and_the_text_still_posts(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    with TwilioEmulator(account_sid=ACCOUNT_SID) as elsewhere:
        foreign = elsewhere.add_media("MM" + "b" * 32, PNG, "image/png")
        params = bridge.twilio_api.inbound_mms(from_=ALICE, to=BUSINESS, body="look", media=[])
        params |= {"NumMedia": "1", "MediaUrl0": foreign, "MediaContentType0": "image/png"}
        with caplog.at_level(logging.WARNING, logger="bridge.media_upload"):
            assert bridge.phone.send(params).status_code == 200
            [parent] = wait_for_thread(bridge.slack, replies=2)
        texts = texts_in(bridge.slack, parent["ts"])
        assert "look" in texts[0]
        assert "cannot be shown here" in texts[1] and "origin" in texts[1]
        assert elsewhere.calls == []  # not fetched, so no credentials went there
    assert any("suspicious media URL" in r.getMessage() for r in caplog.records)
    assert bridge.slack.calls_to("files.getUploadURLExternal") == []


def test_a_redirect_off_to_another_host_is_followed_without_credentials(bridge: Bridge) -> None:
    with TwilioEmulator(account_sid=ACCOUNT_SID) as cdn:
        # The API redirects to a file on another server: fetched, but without our credentials.
        cdn.media_redirects = False
        cdn.auth_token = "anything"
        other = cdn.add_media("MM" + "c" * 32, PNG, "image/png")
        params = bridge.twilio_api.inbound_mms(
            from_=ALICE, to=BUSINESS, body="hi", media=[(b"placeholder", "image/png")]
        )
        me_sid = params["MediaUrl0"].rpartition("/")[2]
        bridge.twilio_api.redirect_overrides[me_sid] = other
        assert bridge.phone.send(params).status_code == 200
        bridge.slack.wait_for(lambda: bool(cdn.calls), timeout=10)
        assert "authorization" not in cdn.calls[0].headers
        [parent] = wait_for_thread(bridge.slack, replies=2)
        # The other server wanted credentials we did not send: a note says it failed.
        assert "401" in texts_in(bridge.slack, parent["ts"])[1]


def test_a_file_over_5_mb_is_cut_off_and_the_thread_says_so(bridge: Bridge) -> None:
    huge = b"\0" * (5 * 1024 * 1024 + 10)
    _mms(bridge, "big one", [(huge, "image/jpeg")])
    [parent] = wait_for_thread(bridge.slack, replies=2)
    note = texts_in(bridge.slack, parent["ts"])[1]
    assert "larger than 5 MB" in note
    assert bridge.slack.calls_to("files.getUploadURLExternal") == []


def test_a_failed_upload_is_retried_through_the_queue(bridge: Bridge) -> None:
    bridge.slack.fail("files.completeUploadExternal", error="internal_error")
    _mms(bridge, "second try", [(PNG, "image/png")])
    [upload] = _wait_uploads(bridge.slack, 1)
    assert bridge.slack.file_content(upload["id"]) == PNG
    assert len(bridge.slack.calls_to("files.getUploadURLExternal")) == 2


def test_our_own_upload_is_never_sent_back_as_a_reply(bridge: Bridge) -> None:
    bridge.thread()  # opted in: a reply would be sent
    _mms(bridge, "photo", [(PNG, "image/png")])
    [upload] = _wait_uploads(bridge.slack, 1)
    [parent] = bridge.slack.top_level(CHANNEL)
    uploaded = next(m for m in bridge.slack.thread(CHANNEL, parent["ts"]) if m.get("files"))
    event = bridge.events.message_event(
        CHANNEL,
        str(uploaded["user"]),
        "",
        ts=uploaded["ts"],
        thread_ts=parent["ts"],
        subtype="file_share",
        files=[upload],
    )
    assert bridge.events.send_event(event).status_code == 200
    bridge.text("thanks")
    wait_for_thread(bridge.slack, replies=5)
    assert bridge.twilio_api.sent == []
    # Not taken for an agent's reply at all: no refusal shown on it, nobody told.
    assert bridge.slack.reactions(CHANNEL, uploaded["ts"]) == []
    assert bridge.slack.ephemerals == []


def test_a_download_twilio_fails_is_retried_and_later_texts_do_not_wait(bridge: Bridge) -> None:
    bridge.twilio_api.fail("media", status=500, times=1)
    _mms(bridge, "photo coming", [(PNG, "image/png")])
    [upload] = _wait_uploads(bridge.slack, 1)
    assert bridge.slack.file_content(upload["id"]) == PNG
    assert len(bridge.twilio_api.calls_to("media")) == 2


def test_texts_after_a_picture_twilio_keeps_failing_are_posted_meanwhile(bridge: Bridge) -> None:
    bridge.twilio_api.fail("media", status=503, times=100)
    _mms(bridge, "photo coming", [(PNG, "image/png")])
    bridge.slack.wait_for(lambda: len(bridge.twilio_api.calls_to("media")) >= 2, timeout=10)
    # The upload waits to be tried again (seconds, growing): the next text does not wait.
    bridge.text("did you get it?")
    [parent] = wait_for_thread(bridge.slack, replies=2)
    assert "did you get it?" in texts_in(bridge.slack, parent["ts"])[1]
    assert _uploads(bridge.slack, parent["ts"]) == []
