"""End to end: agents reply in a contact's Slack thread; the emulated Twilio sees what goes out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier
from sqlmodel import select

from store.models import Contact, OutboundSms
from tests.conftest import ACCOUNT_SID, BUSINESS, CHANNEL, SIGNING_SECRET
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import texts_in, wait_for_thread
from tests.live import (
    ADMIN,
    ALICE,
    GROUPIE,
    GUEST,
    MANAGER,
    MANAGER_GROUP,
    MEMBER,
    OWNER,
    Bridge,
    bridges,
)
from tests.slack_events import SlackEvents


@pytest.fixture
def start(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> Iterator[Callable[..., Bridge]]:
    # Automatic texts are the consent tests' business: here only replies reach Twilio.
    with bridges(tmp_path, slack, twilio_api, AUTORESPOND="off", OPT_IN_TEXT="") as boot:
        yield boot


@pytest.fixture
def bridge(start: Callable[..., Bridge]) -> Bridge:
    return start()


def test_an_admins_reply_goes_out_as_plain_text_from_the_number_the_customer_texted(
    bridge: Bridge,
) -> None:
    thread = bridge.thread()
    markup = "Yes *it is* &amp; it arrives Friday :truck: <@UMANAGER> has it"
    ts = bridge.reply(thread, ADMIN, markup, raw=True)
    [sms] = bridge.wait_sent(1)
    assert sms["to"] == ALICE
    assert sms["from"] == BUSINESS
    assert sms["body"] == "Yes it is & it arrives Friday 🚚 @Maria has it"
    assert sms["status_callback"] == f"{bridge.app.url}/twilio/status"
    bridge.wait_reaction(ts, "incoming_envelope")
    assert "outbox_tray" not in bridge.slack.reactions(CHANNEL, ts)
    assert bridge.slack.ephemerals == []
    decisions = [(row.author, row.decision) for row in bridge.audit()]
    assert decisions == [(ADMIN, "accepted"), (ADMIN, "sent")]


def test_an_owner_may_reply_too(bridge: Bridge) -> None:
    thread = bridge.thread()
    bridge.reply(thread, OWNER, "On its way!")
    assert bridge.wait_sent(1)[0]["body"] == "On its way!"


def test_a_manager_by_list_may_reply(start: Callable[..., Bridge]) -> None:
    bridge = start(SLACK_MANAGERS=f"UOTHER,{MANAGER}")
    thread = bridge.thread()
    bridge.reply(thread, MANAGER, "Hello from a manager")
    assert bridge.wait_sent(1)[0]["body"] == "Hello from a manager"


def test_a_manager_by_user_group_may_reply(start: Callable[..., Bridge]) -> None:
    bridge = start(SLACK_MANAGER_GROUP=MANAGER_GROUP)
    thread = bridge.thread()
    bridge.reply(thread, GROUPIE, "Hello from the manager group")
    assert bridge.wait_sent(1)[0]["body"] == "Hello from the manager group"


def _wait_told(bridge: Bridge, user: str) -> str:
    bridge.slack.wait_for(lambda: any(e["user"] == user for e in bridge.slack.ephemerals), 10)
    [told] = [e for e in bridge.slack.ephemerals if e["user"] == user]
    assert told["channel"] == CHANNEL
    return str(told["text"])


@pytest.mark.parametrize("user", [MEMBER, GUEST])
def test_a_member_or_guest_is_told_privately_and_nothing_is_sent(bridge: Bridge, user: str) -> None:
    thread = bridge.thread()
    ts = bridge.reply(thread, user, "I can help with that")
    told = _wait_told(bridge, user)
    assert told.startswith("Not sent")
    assert "SMS manager" in told or "Guests" in told
    bridge.wait_reaction(ts, "no_entry_sign")
    assert bridge.twilio_api.sent == []
    assert [(r.author, r.decision) for r in bridge.audit()] == [(user, "refused")]


def test_a_customer_who_never_opted_in_is_not_texted(bridge: Bridge) -> None:
    thread = bridge.thread(subscribed=False)
    ts = bridge.reply(thread, ADMIN, "Hello?")
    assert "has not consented to SMS" in _wait_told(bridge, ADMIN)
    bridge.wait_reaction(ts, "no_entry_sign")
    assert bridge.twilio_api.sent == []


def test_a_customer_who_opted_out_is_not_texted(bridge: Bridge) -> None:
    thread = bridge.thread()
    bridge.text("STOP")
    wait_for_thread(bridge.slack, replies=3)
    bridge.reply(thread, ADMIN, "Sorry to see you go")
    assert "unsubscribed" in _wait_told(bridge, ADMIN)
    assert bridge.twilio_api.sent == []


def test_a_note_is_never_sent_and_nobody_is_bothered(bridge: Bridge) -> None:
    thread = bridge.thread()
    bridge.reply(thread, ADMIN, "// she ordered the blue one")
    bridge.reply(thread, ADMIN, "It ships today")
    assert [s["body"] for s in bridge.wait_sent(1)] == ["It ships today"]
    assert bridge.slack.ephemerals == []
    assert bridge.audit()[0].decision == "note"


def test_bot_posts_and_top_level_messages_are_not_replies(bridge: Bridge) -> None:
    thread = bridge.thread()
    other_bot = bridge.events.bot_message_event(
        CHANNEL, "Build passed", thread_ts=thread, bot_id="BOTHER", user="UOTHERBOT"
    )
    assert bridge.events.send_event(other_bot).status_code == 200
    legacy = bridge.events.bot_message_event(CHANNEL, "webhook", thread_ts=thread, legacy=True)
    assert bridge.events.send_event(legacy).status_code == 200
    top = bridge.events.message_event(CHANNEL, ADMIN, "Morning all")
    assert bridge.events.send_event(top).status_code == 200
    elsewhere = bridge.events.message_event("C0ELSEWHERE", ADMIN, "hi", thread_ts=thread)
    assert bridge.events.send_event(elsewhere).status_code == 200
    ts = bridge.reply(thread, ADMIN, "the real reply")
    assert [s["body"] for s in bridge.wait_sent(1)] == ["the real reply"]
    bridge.wait_reaction(ts, "incoming_envelope")  # the "sent" audit entry is committed
    assert len(bridge.audit()) == 2  # accepted and sent, for the real reply only


def test_slack_retries_and_duplicate_deliveries_send_once(bridge: Bridge) -> None:
    thread = bridge.thread()
    event = bridge.events.message_event(CHANNEL, ADMIN, "only once", thread_ts=thread)
    envelope = bridge.events.envelope(event)
    assert bridge.events.send(envelope).status_code == 200
    assert bridge.events.send(envelope, retry_num=1).status_code == 200
    assert bridge.events.send(envelope, retry_num=2, retry_reason="http_error").status_code == 200
    # The same message delivered again under a new event id.
    assert bridge.events.send_event(event).status_code == 200
    bridge.reply(thread, ADMIN, "and then this")
    assert [s["body"] for s in bridge.wait_sent(2)] == ["only once", "and then this"]


def test_forged_and_stale_signatures_are_refused_and_nothing_happens(bridge: Bridge) -> None:
    thread = bridge.thread()
    event = bridge.events.message_event(CHANNEL, ADMIN, "forged", thread_ts=thread)
    envelope = bridge.events.envelope(event)
    assert bridge.events.send(envelope, signature="v0=" + "0" * 64).status_code == 401
    assert bridge.events.send(envelope, signature="").status_code == 401
    stale = bridge.events.envelope(event)
    assert bridge.events.send(stale, timestamp=1_600_000_000).status_code == 401
    other = SlackEvents(base_url=bridge.app.url, signing_secret="not-our-secret")
    assert other.send(envelope).status_code == 401
    bridge.reply(thread, ADMIN, "genuine")
    assert [s["body"] for s in bridge.wait_sent(1)] == ["genuine"]


def test_malformed_signed_payloads_are_acknowledged_and_ignored(bridge: Bridge) -> None:
    thread = bridge.thread()
    odd_events: list[dict[str, Any]] = [
        {"type": "message", "channel": CHANNEL},
        {"type": "message", "channel": CHANNEL, "thread_ts": thread, "user": ADMIN, "ts": 12},
        {"type": "message", "channel": CHANNEL, "subtype": "message_changed", "message": "x"},
        {"type": "message", "channel": CHANNEL, "subtype": "message_deleted"},
        {
            "type": "message",
            "channel": CHANNEL,
            "thread_ts": "1.000001",
            "user": ADMIN,
            "ts": "2.1",
        },
    ]
    for event in odd_events:
        assert bridge.events.send_event(event).status_code == 200
    stamp = str(int(time.time()))
    body = "{not json"
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    headers = {
        "Content-Type": "application/json",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": str(signature),
    }
    answer = httpx.post(f"{bridge.app.url}/slack/events", content=body, headers=headers)
    assert answer.status_code == 200
    bridge.reply(thread, ADMIN, "still working")
    assert [s["body"] for s in bridge.wait_sent(1)] == ["still working"]


def test_replies_leave_in_the_order_they_were_written(bridge: Bridge) -> None:
    thread = bridge.thread()
    for n in range(5):
        bridge.reply(thread, ADMIN, f"part {n}")
    assert [s["body"] for s in bridge.wait_sent(5)] == [f"part {n}" for n in range(5)]


def test_a_long_reply_is_split_on_word_boundaries_in_order(bridge: Bridge) -> None:
    thread = bridge.thread()
    words = [f"word{n}" for n in range(400)]  # about 2,700 characters
    bridge.reply(thread, ADMIN, " ".join(words))
    sent = bridge.wait_sent(2)
    assert len(sent) == 2
    assert all(len(s["body"]) <= 1600 for s in sent)
    assert " ".join(s["body"] for s in sent).split() == words


def test_a_thread_broadcast_is_a_reply(bridge: Bridge) -> None:
    thread = bridge.thread()
    bridge.reply(thread, ADMIN, "also in the channel", broadcast=True)
    assert [s["body"] for s in bridge.wait_sent(1)] == ["also in the channel"]


def test_twilio_unsubscribed_error_marks_the_contact_and_says_why_in_the_thread(
    bridge: Bridge,
) -> None:
    thread = bridge.thread()
    bridge.twilio_api.fail(
        "messages.create",
        status=400,
        code=21610,
        message="Attempt to send to unsubscribed recipient",
    )
    ts = bridge.reply(thread, ADMIN, "Are you there?")
    bridge.wait_reaction(ts, "x")
    bridge.slack.wait_for(
        lambda: any("Not delivered by SMS" in t for t in texts_in(bridge.slack, thread)), 10
    )
    notice = next(t for t in texts_in(bridge.slack, thread) if "Not delivered" in t)
    assert "replied STOP" in notice and "21610" in notice
    with bridge.database() as session:
        contact = session.exec(select(Contact).where(Contact.phone == ALICE)).one()
        assert contact.consent == "unsubscribed"
    bridge.slack.wait_for(
        lambda: "Unsubscribed" in str((bridge.slack.message(CHANNEL, thread) or {}).get("blocks")),
        10,
    )


def test_an_answer_twilio_lost_is_reconciled_and_not_sent_twice(bridge: Bridge) -> None:
    thread = bridge.thread()
    # Twilio takes the message, then the connection drops before we hear back.
    bridge.twilio_api.fail("messages.create", status=0, effect=True)
    ts = bridge.reply(thread, ADMIN, "exactly once please")
    bridge.wait_reaction(ts, "incoming_envelope")
    assert bridge.sent_bodies() == ["exactly once please"]


def test_twilio_outage_is_retried_until_it_goes(bridge: Bridge) -> None:
    thread = bridge.thread()
    bridge.twilio_api.fail("messages.create", status=503, code=20503, times=2)
    ts = bridge.reply(thread, ADMIN, "patience")
    bridge.wait_reaction(ts, "incoming_envelope")
    assert bridge.sent_bodies() == ["patience"]


def test_editing_or_deleting_a_sent_reply_says_once_that_sms_cannot_be_recalled(
    bridge: Bridge,
) -> None:
    thread = bridge.thread()
    ts = bridge.reply(thread, ADMIN, "See you at 5")
    bridge.wait_reaction(ts, "incoming_envelope")
    stored = bridge.slack.message(CHANNEL, ts)
    assert stored is not None
    for text in ("See you at 6", "See you at 7"):
        edit = bridge.events.changed_event(CHANNEL, stored, text=text)
        assert bridge.events.send_event(edit).status_code == 200
    delete = bridge.events.deleted_event(CHANNEL, stored)
    assert bridge.events.send_event(delete).status_code == 200
    bridge.slack.wait_for(
        lambda: any("already gone out" in t for t in texts_in(bridge.slack, thread)), 10
    )
    bridge.reply(thread, ADMIN, "after the edits")
    bridge.wait_sent(2)
    notices = [t for t in texts_in(bridge.slack, thread) if "already gone out" in t]
    assert len(notices) == 1
    assert bridge.sent_bodies() == ["See you at 5", "after the edits"]


def test_a_reply_with_a_file_sends_its_text_and_the_file_as_mms(bridge: Bridge) -> None:
    thread = bridge.thread()
    picture = bridge.slack.add_file(b"\x89PNG receipt", "receipt.png", "image/png", user=ADMIN)
    bridge.reply(thread, ADMIN, "Here is your receipt", subtype="file_share", files=[picture])
    [sms] = bridge.wait_sent(1)
    assert sms["body"] == "Here is your receipt"
    assert [u.startswith(f"{bridge.app.url}/media/") for u in sms["media_urls"]] == [True]
    assert "On its way by MMS" in _wait_told(bridge, ADMIN)


def test_delivery_status_callbacks_are_recorded_and_never_move_back(bridge: Bridge) -> None:
    thread = bridge.thread()
    bridge.reply(thread, ADMIN, "tracking number 1Z999")
    [sms] = bridge.wait_sent(1)
    callback = {"AccountSid": ACCOUNT_SID, "MessageSid": sms["sid"], "To": ALICE, "From": BUSINESS}
    for status in ("sent", "delivered", "sent"):
        answer = bridge.phone.send({**callback, "MessageStatus": status}, path="/twilio/status")
        assert answer.status_code == 204
    forged = bridge.phone.send(
        {**callback, "MessageStatus": "failed"}, path="/twilio/status", signature="forged"
    )
    assert forged.status_code == 403
    with bridge.database() as session:
        [part] = session.exec(select(OutboundSms)).all()
        assert part.status == "delivered"


def test_a_reply_stuck_on_twilio_credentials_says_so_once_then_goes(bridge: Bridge) -> None:
    thread = bridge.thread()
    good_token = bridge.twilio_api.auth_token
    bridge.twilio_api.auth_token = "rotated-by-someone"  # ours no longer works: 401
    ts = bridge.reply(thread, ADMIN, "Your refund is on its way")
    bridge.slack.wait_for(
        lambda: any("Not sent yet" in t for t in texts_in(bridge.slack, thread)), 20
    )
    notice = next(t for t in texts_in(bridge.slack, thread) if "Not sent yet" in t)
    assert "TWILIO_AUTH_TOKEN" in notice and "rotated" not in notice
    bridge.twilio_api.auth_token = good_token
    bridge.slack.wait_for(lambda: "incoming_envelope" in bridge.slack.reactions(CHANNEL, ts), 30)
    assert bridge.sent_bodies() == ["Your refund is on its way"]
    assert sum("Not sent yet" in t for t in texts_in(bridge.slack, thread)) == 1
