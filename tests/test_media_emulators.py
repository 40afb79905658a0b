"""The emulators' media surfaces behave as the real services do for the clients we use."""

from __future__ import annotations

import pytest
import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, CHANNEL
from tests.emulators import SlackEmulator, TwilioEmulator


def test_files_upload_v2_shares_the_file_into_the_thread(slack: SlackEmulator) -> None:
    web = WebClient(token="xoxb-test", base_url=slack.url)
    parent = slack.add_message(CHANNEL, "thread")
    answer = web.files_upload_v2(
        channel=CHANNEL, thread_ts=parent, content=b"\x89PNG", filename="a.png", title="A"
    )
    file_id = answer["file"]["id"]
    [shared] = slack.thread(CHANNEL, parent)
    assert [f["id"] for f in shared["files"]] == [file_id]
    assert shared["user"] == slack.bot_user_id
    assert slack.file_content(file_id) == b"\x89PNG"
    info = web.files_info(file=file_id)["file"]
    assert (info["name"], info["title"], info["mimetype"], info["size"]) == (
        "a.png",
        "A",
        "image/png",
        4,
    )


def test_upload_url_arguments_are_checked(slack: SlackEmulator) -> None:
    web = WebClient(token="xoxb-test", base_url=slack.url)
    with pytest.raises(SlackApiError) as err:
        web.files_getUploadURLExternal(filename="", length=0)
    assert err.value.response["error"] == "invalid_arguments"
    with pytest.raises(SlackApiError) as err:
        web.files_completeUploadExternal(files=[{"id": "FNOPE"}], channel_id=CHANNEL)
    assert err.value.response["error"] == "file_not_found"


def test_private_file_urls_need_the_bot_token(slack: SlackEmulator) -> None:
    file = slack.add_file(b"receipt", "r.pdf", "application/pdf")
    url = file["url_private_download"]
    assert requests.get(url, timeout=5, allow_redirects=False).status_code == 302
    wrong = {"Authorization": "Bearer xoxb-other"}
    assert requests.get(url, headers=wrong, timeout=5, allow_redirects=False).status_code == 302
    right = requests.get(url, headers={"Authorization": "Bearer xoxb-test"}, timeout=5)
    assert (right.status_code, right.content) == (200, b"receipt")
    assert right.headers["Content-Type"] == "application/pdf"


def test_twilio_media_redirects_to_an_unauthenticated_cdn_url(twilio_api: TwilioEmulator) -> None:
    url = twilio_api.add_media("MM" + "a" * 32, b"jpeg", "image/jpeg")
    assert requests.get(url, timeout=5).status_code == 401
    first = requests.get(url, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5, allow_redirects=False)
    assert first.status_code == 307
    cdn = requests.get(first.headers["Location"], timeout=5)
    assert (cdn.status_code, cdn.content, cdn.headers["Content-Type"]) == (
        200,
        b"jpeg",
        "image/jpeg",
    )
    assert requests.get(f"{twilio_api.origin}/mms-media/unknown", timeout=5).status_code == 403


def test_inbound_mms_parameters_point_at_the_stored_media(twilio_api: TwilioEmulator) -> None:
    params = twilio_api.inbound_mms(
        from_="+14155550100", to="+15550001111", body="hi", media=[(b"a", "image/gif")]
    )
    assert params["NumMedia"] == "1" and params["MessageSid"].startswith("MM")
    assert params["MediaContentType0"] == "image/gif"
    got = requests.get(params["MediaUrl0"], auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
    assert got.content == b"a"
