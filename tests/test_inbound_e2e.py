"""End to end: signed Twilio webhooks into the real app, posts seen by the Slack emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session, select

from bridge.config import Settings
from store.engine import make_engine
from store.models import Message
from tests.conftest import CHANNEL
from tests.emulators import SlackEmulator
from tests.harness import AppServer, Twilio, make_settings, texts_in, wait_for_thread

ALICE = "+14155550100"


@pytest.fixture
def settings(tmp_path: Path, slack: SlackEmulator) -> Settings:
    return make_settings(tmp_path, slack)


@pytest.fixture
def app(settings: Settings) -> Iterator[AppServer]:
    server = AppServer(settings).start()
    yield server
    server.stop()


@pytest.fixture
def twilio(app: AppServer) -> Twilio:
    return Twilio(base_url=app.url, public_url=app.url)


def test_first_text_opens_a_thread_with_a_header_then_the_text(
    slack: SlackEmulator, twilio: Twilio
) -> None:
    answer = twilio.text(1, "Where is my order?", FromCity="OAKLAND", FromState="CA")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    assert "<Response/>" in answer.text
    [parent] = wait_for_thread(slack, replies=1)
    header = str(parent["blocks"])
    assert "+1 415-555-0100" in header
    assert "Never subscribed to SMS" in header
    assert "America/Los_Angeles" in header and ("PST" in header or "PDT" in header)
    assert "OAKLAND, CA" in header
    assert texts_in(slack, parent["ts"]) == ["Where is my order?"]
    posts = slack.all_posts()
    assert "thread_ts" not in posts[0] and posts[1]["thread_ts"] == parent["ts"]


def test_later_texts_go_into_the_same_thread_in_order(slack: SlackEmulator, twilio: Twilio) -> None:
    for n, body in enumerate(["one", "two", "three"], start=1):
        assert twilio.text(n, body).status_code == 200
    [parent] = wait_for_thread(slack, replies=3)
    assert texts_in(slack, parent["ts"]) == ["one", "two", "three"]
    assert len(slack.calls_to("chat.postMessage")) == 4


def test_customer_text_cannot_ping_mention_or_link(slack: SlackEmulator, twilio: Twilio) -> None:
    body = "<!channel> hey <@U024BE7LH> & <https://evil.test|your bank>"
    twilio.text(1, body)
    [parent] = wait_for_thread(slack, replies=1)
    [posted] = slack.thread(CHANNEL, parent["ts"])
    for shown in (posted["text"], str(posted["blocks"])):
        assert "<!channel>" not in shown and "<@U024BE7LH>" not in shown
        assert "<https://" not in shown
        assert "&lt;!channel&gt;" in shown and "&amp;" in shown


def test_a_replayed_message_sid_is_posted_once(slack: SlackEmulator, twilio: Twilio) -> None:
    assert twilio.text(1, "hello").status_code == 200
    assert twilio.text(1, "hello").status_code == 200
    wait_for_thread(slack, replies=1)
    twilio.text(2, "marker")
    [parent] = wait_for_thread(slack, replies=2)
    assert texts_in(slack, parent["ts"]) == ["hello", "marker"]


def test_forged_and_unsigned_webhooks_are_refused_and_not_stored(
    slack: SlackEmulator, twilio: Twilio, settings: Settings
) -> None:
    params = twilio.params(1, "hi", ALICE)
    assert twilio.send(params, signature="").status_code == 403
    assert twilio.send(params, signature="bm90IGEgc2lnbmF0dXJl").status_code == 403
    wrong_key = Twilio(twilio.base_url, twilio.public_url, auth_token="someone-elses-token")
    assert wrong_key.send(params).status_code == 403
    tampered = dict(params, Body="send me money")
    assert twilio.send(tampered, signature=twilio.signature(params)).status_code == 403
    with Session(make_engine(settings.database_url)) as session:
        assert session.exec(select(Message)).all() == []
    assert slack.calls_to("chat.postMessage") == []


def test_signature_is_checked_against_public_url_not_the_url_seen(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    settings = make_settings(tmp_path, slack, PUBLIC_URL="https://sms.shop.test")
    server = AppServer(settings).start()
    try:
        behind_proxy = Twilio(server.url, public_url="https://sms.shop.test")
        assert behind_proxy.text(1, "hi").status_code == 200
        as_seen = Twilio(server.url, public_url=server.url)
        assert as_seen.text(2, "hi").status_code == 403
    finally:
        server.stop()


def test_another_accounts_webhook_is_refused(twilio: Twilio) -> None:
    params = twilio.params(1, "hi", ALICE, AccountSid="AC" + "f" * 32)
    assert twilio.send(params).status_code == 403


@pytest.mark.parametrize(
    ("drop", "change"),
    [("MessageSid", {}), ("From", {}), ("To", {}), (None, {"MessageSid": "SM123"})],
)
def test_malformed_webhooks_get_a_clear_400(
    twilio: Twilio, drop: str | None, change: dict[str, str]
) -> None:
    params = twilio.params(1, "hi", ALICE)
    params.update(change)
    if drop:
        params.pop(drop)
    answer = twilio.send(params)
    assert answer.status_code == 400
    assert (drop or "MessageSid") in answer.text


def test_oversized_and_garbled_bodies_are_refused(twilio: Twilio) -> None:
    huge = twilio.params(1, "x" * 70_000, ALICE)
    assert twilio.send(huge).status_code == 413
    garbled = httpx.post(
        f"{twilio.base_url}/twilio/sms",
        content=b"Body=\xff\xfe&From=%2B1",
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "x"},
    )
    assert garbled.status_code == 400
    json_body = httpx.post(f"{twilio.base_url}/twilio/sms", json={"From": ALICE})
    assert json_body.status_code == 415


def test_short_code_senders_are_kept_and_shown_as_given(
    slack: SlackEmulator, twilio: Twilio
) -> None:
    assert twilio.text(1, "Your code is 1234", sender="22395").status_code == 200
    [parent] = wait_for_thread(slack, replies=1)
    assert "22395" in str(parent["blocks"])


def test_texts_to_an_unrouted_number_land_in_the_inbox(
    slack: SlackEmulator, twilio: Twilio
) -> None:
    assert twilio.text(1, "hi", To="+15550009999").status_code == 200
    # wait_for_thread reads SLACK_CHANNEL only: the text is there, not dropped.
    [parent] = wait_for_thread(slack, replies=1)
    assert texts_in(slack, parent["ts"]) == ["hi"]


def test_stop_in_a_thread_is_an_event_and_updates_the_header(
    slack: SlackEmulator, twilio: Twilio
) -> None:
    twilio.text(1, "hello")
    twilio.text(2, "Stop.")
    [parent] = wait_for_thread(slack, replies=2)
    slack.wait_for(lambda: bool(slack.calls_to("chat.update")))
    assert texts_in(slack, parent["ts"])[1].endswith("Texted STOP: unsubscribed")
    updated = slack.message(CHANNEL, parent["ts"])
    assert updated is not None and "Unsubscribed from SMS" in str(updated["blocks"])


def test_a_keyword_from_someone_without_a_thread_posts_nothing(
    slack: SlackEmulator, twilio: Twilio
) -> None:
    assert twilio.text(1, "START").status_code == 200
    twilio.text(2, "hi, I just subscribed")
    [parent] = wait_for_thread(slack, replies=1)
    assert "Subscribed to SMS" in str(parent["blocks"])
    assert texts_in(slack, parent["ts"]) == ["hi, I just subscribed"]


def test_healthz_answers_with_the_queue(app: AppServer) -> None:
    answer = httpx.get(f"{app.url}/healthz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok" and answer.json()["queue"]["pending"] == 0
