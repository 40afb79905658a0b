"""The Slack and Twilio emulators, driven over real HTTP by the real client libraries."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from bridge.sandbox.emulators._rate_limit import ChannelBuckets
from bridge.sandbox.emulators._server import EmulatorServer, Request, Response
from bridge.twilio_transport import ApiOriginHttpClient, normalize_origin
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.slack_events import SlackEvents

SID = "AC" + "1234abcd" * 4
TOKEN = "tw-secret"
CHANNEL = "C0SMS"


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    with SlackEmulator() as emu:
        yield emu


@pytest.fixture
def web(slack: SlackEmulator) -> WebClient:
    return WebClient(base_url=slack.url, token="xoxb-test", timeout=5)


@pytest.fixture
def twilio_emu() -> Iterator[TwilioEmulator]:
    with TwilioEmulator(account_sid=SID, auth_token=TOKEN) as emu:
        yield emu


@pytest.fixture
def tw(twilio_emu: TwilioEmulator) -> Client:
    return Client(SID, TOKEN, http_client=ApiOriginHttpClient(twilio_emu.url, timeout=5))


# -- Slack -------------------------------------------------------------------------------------


def test_post_message_then_replies_in_thread(slack: SlackEmulator, web: WebClient) -> None:
    parent = web.chat_postMessage(channel=CHANNEL, text="From +15551230001: hi")
    assert parent["ok"] is True
    assert parent["channel"] == CHANNEL
    assert parent["message"]["user"] == "UBOT"
    assert parent["message"]["bot_id"] == "BBOT"
    first = web.chat_postMessage(channel=CHANNEL, text="reply 1", thread_ts=parent["ts"])
    second = web.chat_postMessage(channel=CHANNEL, text="reply 2", thread_ts=parent["ts"])
    assert parent["ts"] < first["ts"] < second["ts"]
    assert first["message"]["thread_ts"] == parent["ts"]

    thread = web.conversations_replies(channel=CHANNEL, ts=parent["ts"])
    assert [m["text"] for m in thread["messages"]] == [
        "From +15551230001: hi",
        "reply 1",
        "reply 2",
    ]
    assert thread["messages"][0]["reply_count"] == 2
    history = web.conversations_history(channel=CHANNEL)
    assert [m["ts"] for m in history["messages"]] == [parent["ts"]]
    assert history["messages"][0]["latest_reply"] == second["ts"]

    assert [m["text"] for m in slack.thread(CHANNEL, parent["ts"])] == ["reply 1", "reply 2"]
    assert [m["ts"] for m in slack.top_level(CHANNEL)] == [parent["ts"]]
    assert len(slack.calls_to("chat.postMessage")) == 3
    assert slack.calls_to("chat.postMessage")[0].headers["authorization"] == "Bearer xoxb-test"
    assert [p["text"] for p in slack.all_posts()] == ["From +15551230001: hi", "reply 1", "reply 2"]


def test_thread_ts_must_name_a_top_level_message(slack: SlackEmulator, web: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel=CHANNEL, text="orphan", thread_ts="1700000000.000100")
    assert err.value.response["error"] == "thread_not_found"
    assert slack.top_level(CHANNEL) == []
    assert slack.all_posts() == []


def test_metadata_only_with_include_all_metadata(slack: SlackEmulator, web: WebClient) -> None:
    meta = {"event_type": "sms_thread", "event_payload": {"phone": "+15551230001"}}
    posted = web.chat_postMessage(channel=CHANNEL, text="hi", metadata=meta)
    web.chat_postMessage(channel=CHANNEL, text="r", thread_ts=posted["ts"], metadata=meta)

    plain = web.conversations_history(channel=CHANNEL)["messages"][0]
    assert "metadata" not in plain
    rich = web.conversations_history(channel=CHANNEL, include_all_metadata=True)["messages"][0]
    assert rich["metadata"] == meta
    replies = web.conversations_replies(channel=CHANNEL, ts=posted["ts"])["messages"]
    assert all("metadata" not in m for m in replies)
    replies = web.conversations_replies(
        channel=CHANNEL, ts=posted["ts"], include_all_metadata=True
    )["messages"]
    assert [m["metadata"] for m in replies] == [meta, meta]


def test_form_encoded_json_fields_are_decoded(slack: SlackEmulator, web: WebClient) -> None:
    meta = {"event_type": "sms_thread", "event_payload": {"n": 1}}
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    form = {"channel": CHANNEL, "text": "hi", "metadata": json.dumps(meta)}
    web.api_call("chat.postMessage", data={**form, "blocks": json.dumps(blocks)})
    call = slack.calls_to("chat.postMessage")[0]
    assert call.params["metadata"] == meta
    assert call.params["blocks"] == blocks
    assert slack.top_level(CHANNEL)[0]["metadata"] == meta


def test_rate_limit_surfaces_as_429_with_retry_after(slack: SlackEmulator, web: WebClient) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel=CHANNEL, text="hi")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert err.value.response["error"] == "ratelimited"
    assert slack.top_level(CHANNEL) == []
    assert web.chat_postMessage(channel=CHANNEL, text="hi")["ok"] is True


def test_enforced_rate_limit_refuses_posts_over_the_channel_budget(
    slack: SlackEmulator, web: WebClient
) -> None:
    # One post per 10 s after a burst of 2: the third post in a row is over the budget.
    slack.rate_limit("chat.postMessage", rate=0.1, burst=2)
    first = web.chat_postMessage(channel=CHANNEL, text="one")
    web.chat_postMessage(channel=CHANNEL, text="two", thread_ts=first["ts"])
    with pytest.raises(SlackApiError) as refused:
        web.chat_postMessage(channel=CHANNEL, text="three")
    assert refused.value.response.status_code == 429
    assert refused.value.response["error"] == "ratelimited"
    assert refused.value.response.headers["Retry-After"] in {"9", "10"}  # whole seconds
    # The budget is per channel; other methods are not limited.
    web.chat_postMessage(channel="C0OTHER", text="elsewhere")
    web.chat_update(channel=CHANNEL, ts=first["ts"], text="one, edited")
    assert slack.ratelimited == 1
    arrivals = slack.arrivals()
    assert [(a.channel, a.text) for a in arrivals] == [
        (CHANNEL, "one"),
        (CHANNEL, "two"),
        ("C0OTHER", "elsewhere"),
    ]
    assert arrivals[1].thread_ts == first["ts"] and arrivals[0].thread_ts is None
    assert arrivals[0].monotonic <= arrivals[1].monotonic <= arrivals[2].monotonic
    assert abs(arrivals[0].wall - time.time()) < 60
    # The refused post stored nothing.
    assert [m["text"] for m in slack.top_level(CHANNEL)] == ["one, edited"]
    slack.no_rate_limit()
    web.chat_postMessage(channel=CHANNEL, text="four")
    assert slack.ratelimited == 1


def test_rate_limit_buckets_refill_at_the_rate() -> None:
    now = [100.0]
    buckets = ChannelBuckets(rate=4, burst=3, fractional=True, monotonic=lambda: now[0])
    assert [buckets.admit("C1") for _ in range(3)] == [None, None, None]
    assert buckets.admit("C1") == 0.25
    now[0] += 0.125
    assert buckets.admit("C1") == 0.125
    now[0] += 0.125
    assert buckets.admit("C1") is None
    assert buckets.admit("C2") is None  # each channel has its own bucket
    now[0] += 10  # refills to the burst, not beyond it
    assert [buckets.admit("C1") for _ in range(4)] == [None, None, None, 0.25]
    whole = ChannelBuckets(rate=10, burst=1, monotonic=lambda: now[0])
    assert whole.admit("C1") is None
    assert whole.admit("C1") == 1.0  # Slack says whole seconds


def test_invalid_and_missing_token(slack: SlackEmulator, web: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=slack.url, token="xoxb-wrong").auth_test()
    assert err.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=slack.url).auth_test()
    assert err.value.response["error"] == "not_authed"
    assert web.auth_test()["user_id"] == "UBOT"
    slack.token = "xoxb-rotated"
    with pytest.raises(SlackApiError) as err:
        web.auth_test()
    assert err.value.response["error"] == "invalid_auth"


def test_http_500_non_json_is_not_retried(slack: SlackEmulator, web: WebClient) -> None:
    slack.fail("chat.postMessage", status=500)
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel=CHANNEL, text="hi")
    assert err.value.response.status_code == 500
    assert err.value.response["error"].startswith("Received a response in a non-JSON format")
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_effect_then_error_and_dropped_connection(slack: SlackEmulator, web: WebClient) -> None:
    slack.fail("chat.postMessage", error="internal_error", effect=True)
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel=CHANNEL, text="lost answer")
    assert [m["text"] for m in slack.top_level(CHANNEL)] == ["lost answer"]
    # A dropped socket is silently retried once by slack_sdk's default retry handler,
    # so a post whose answer was lost this way lands twice.
    slack.fail("chat.postMessage", status=0, effect=True)
    web.chat_postMessage(channel=CHANNEL, text="dup")
    assert [m["text"] for m in slack.top_level(CHANNEL)] == ["lost answer", "dup", "dup"]


def test_latency_down_and_wait_for(slack: SlackEmulator, web: WebClient) -> None:
    slack.latency("chat.postMessage", 1.3)
    with pytest.raises(TimeoutError):
        WebClient(base_url=slack.url, token="xoxb-test", timeout=1).chat_postMessage(
            channel=CHANNEL, text="slow"
        )
    slack.wait_for(lambda: len(slack.top_level(CHANNEL)) == 1)
    with pytest.raises(AssertionError):
        slack.wait_for(lambda: False, timeout=0.05)
    slack.down = True
    with pytest.raises(SlackApiError) as err:
        web.auth_test()
    assert err.value.response.status_code == 503


def test_history_cursor_pagination(slack: SlackEmulator, web: WebClient) -> None:
    posted = [web.chat_postMessage(channel=CHANNEL, text=f"m{i}")["ts"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        page = web.conversations_history(channel=CHANNEL, limit=2, cursor=cursor)
        seen += [m["ts"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        assert page["has_more"] is bool(cursor)
        if not cursor:
            break
    assert seen == posted[::-1]
    window = web.conversations_history(channel=CHANNEL, oldest=posted[1], latest=posted[3])
    assert [m["ts"] for m in window["messages"]] == [posted[2]]


def test_channel_policies_and_other_methods(slack: SlackEmulator, web: WebClient) -> None:
    slack.missing_channels.add("CGONE")
    slack.not_in_channels.add("COUT")
    for channel, error in (("CGONE", "channel_not_found"), ("COUT", "not_in_channel")):
        with pytest.raises(SlackApiError) as err:
            web.chat_postMessage(channel=channel, text="x")
        assert err.value.response["error"] == error
    assert web.conversations_info(channel="COUT")["channel"]["is_member"] is False

    parent = web.chat_postMessage(channel=CHANNEL, text="p")["ts"]
    reply = web.chat_postMessage(channel=CHANNEL, text="r", thread_ts=parent)["ts"]
    updated = web.chat_update(channel=CHANNEL, ts=parent, text="p2")
    assert (updated["ts"], updated["text"]) == (parent, "p2")
    assert slack.message(CHANNEL, parent)["text"] == "p2"  # type: ignore[index]
    with pytest.raises(SlackApiError) as err:
        web.chat_update(channel=CHANNEL, ts="1.000001", text="x")
    assert err.value.response["error"] == "message_not_found"

    link = web.chat_getPermalink(channel=CHANNEL, message_ts=reply)["permalink"]
    assert link == (
        f"https://example.slack.com/archives/{CHANNEL}/p{reply.replace('.', '')}"
        f"?thread_ts={parent}&cid={CHANNEL}"
    )
    assert web.chat_postEphemeral(channel=CHANNEL, user="U1", text="psst")["message_ts"]
    assert slack.ephemerals[0]["text"] == "psst"

    slack.add_user("U1", "ann", is_admin=True, tz="Europe/Berlin")
    assert web.users_info(user="U1")["user"]["profile"]["display_name"] == "ann"
    with pytest.raises(SlackApiError):
        web.users_info(user="U404")
    slack.usergroups["S1"] = ["U1", "U2"]
    assert web.usergroups_users_list(usergroup="S1")["users"] == ["U1", "U2"]
    view = web.views_publish(user_id="U1", view={"type": "home", "blocks": []})["view"]
    assert view["id"]
    assert slack.views["U1"]["type"] == "home"
    with pytest.raises(SlackApiError) as err:
        web.api_call("no.such.method")
    assert err.value.response["error"] == "unknown_method"


def reaction_error(call: Any, **kwargs: Any) -> str:
    with pytest.raises(SlackApiError) as err:
        call(**kwargs)
    return str(err.value.response["error"])


def test_reactions_on_a_human_reply(slack: SlackEmulator, web: WebClient) -> None:
    parent = web.chat_postMessage(channel=CHANNEL, text="From +15551230001: hi")["ts"]
    reply = slack.add_message(CHANNEL, "on it", user="UAGENT", thread_ts=parent)
    assert slack.reactions(CHANNEL, reply) == []

    assert web.reactions_add(channel=CHANNEL, timestamp=reply, name="outbox_tray")["ok"] is True
    assert slack.reactions(CHANNEL, reply) == ["outbox_tray"]
    shown = web.conversations_replies(channel=CHANNEL, ts=parent)["messages"][1]
    assert shown["reactions"] == [{"name": "outbox_tray", "users": ["UBOT"], "count": 1}]
    add = web.reactions_add
    assert reaction_error(add, channel=CHANNEL, timestamp=reply, name="outbox_tray") == (
        "already_reacted"
    )

    slack.add_reaction(CHANNEL, reply, "outbox_tray", user="UAGENT")
    web.reactions_add(channel=CHANNEL, timestamp=reply, name="white_check_mark")
    got = web.reactions_get(channel=CHANNEL, timestamp=reply)
    assert (got["type"], got["channel"]) == ("message", CHANNEL)
    assert got["message"]["reactions"] == [
        {"name": "outbox_tray", "users": ["UBOT", "UAGENT"], "count": 2},
        {"name": "white_check_mark", "users": ["UBOT"], "count": 1},
    ]
    assert got["message"]["permalink"].endswith(f"?thread_ts={parent}&cid={CHANNEL}")

    web.reactions_remove(channel=CHANNEL, timestamp=reply, name="outbox_tray")
    assert slack.message(CHANNEL, reply)["reactions"][0] == {  # type: ignore[index]
        "name": "outbox_tray",
        "users": ["UAGENT"],
        "count": 1,
    }
    remove = web.reactions_remove
    assert reaction_error(remove, channel=CHANNEL, timestamp=reply, name="outbox_tray") == (
        "no_reaction"
    )
    slack.add_reaction(CHANNEL, reply, "eyes")
    assert reaction_error(remove, channel=CHANNEL, timestamp=reply, name="eyes") == "no_reaction"
    web.reactions_remove(channel=CHANNEL, timestamp=reply, name="white_check_mark")
    assert slack.reactions(CHANNEL, reply) == ["outbox_tray", "eyes"]


def test_reactions_on_top_level_messages_and_edits(slack: SlackEmulator, web: WebClient) -> None:
    parent = web.chat_postMessage(channel=CHANNEL, text="p")["ts"]
    web.reactions_add(channel=CHANNEL, timestamp=parent, name="thumbsup::skin-tone-3")
    web.chat_update(channel=CHANNEL, ts=parent, text="p2")
    history = web.conversations_history(channel=CHANNEL)["messages"][0]
    assert history["text"] == "p2"
    assert history["reactions"][0]["name"] == "thumbsup::skin-tone-3"
    web.reactions_remove(channel=CHANNEL, timestamp=parent, name="thumbsup::skin-tone-3")
    assert "reactions" not in web.conversations_history(channel=CHANNEL)["messages"][0]
    assert "reactions" not in web.reactions_get(channel=CHANNEL, timestamp=parent)["message"]
    assert len(slack.calls_to("reactions.add")) == 1
    with pytest.raises(KeyError):
        slack.reactions(CHANNEL, "1.000001")


def test_reaction_errors(slack: SlackEmulator, web: WebClient) -> None:
    ts = slack.add_message(CHANNEL, "hello")
    add = web.reactions_add
    for bad in (":outbox_tray:", "Outbox_Tray", "outbox tray", "no_such_emoji_here", ""):
        assert reaction_error(add, channel=CHANNEL, timestamp=ts, name=bad) == "invalid_name"
    slack.custom_emoji.add("sms-sent")
    assert add(channel=CHANNEL, timestamp=ts, name="sms-sent")["ok"] is True
    assert reaction_error(add, channel=CHANNEL, timestamp="1.000001", name="x") == (
        "message_not_found"
    )
    assert reaction_error(add, channel=CHANNEL, timestamp="soon", name="x") == "bad_timestamp"
    no_ts = {"channel": CHANNEL, "name": "x"}
    assert reaction_error(web.api_call, api_method="reactions.add", data=no_ts) == (
        "no_item_specified"
    )
    slack.missing_channels.add("CGONE")
    assert reaction_error(add, channel="CGONE", timestamp=ts, name="x") == "channel_not_found"
    for method in (web.reactions_remove, web.reactions_get):
        assert reaction_error(method, channel=CHANNEL, timestamp="1.000001", name="x") == (
            "message_not_found"
        )


# -- Slack Events API requests -------------------------------------------------------------------

SECRET = "events-signing-secret"
EVENT_ID = re.compile(r"Ev[0-9A-Z]{10}")


class Inbox(EmulatorServer):
    """Accepts any POST with 200 and keeps it, standing in for the app's /slack/events."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Response:
        with self._lock:
            self.requests.append(request)
        return Response.text(200, "")


def test_event_requests_are_signed_like_slack() -> None:
    events = SlackEvents(base_url="http://127.0.0.1:9/", signing_secret=SECRET)
    event = events.message_event(CHANNEL, "UAGENT", "Tom & Jerry <3", thread_ts="1700000000.000100")
    payload = events.envelope(event)
    built = events.request(payload, retry_num=2)
    headers = dict(built.headers)
    assert str(built.url) == "http://127.0.0.1:9/slack/events"
    assert headers["content-type"] == "application/json"
    assert (headers["x-slack-retry-num"], headers["x-slack-retry-reason"]) == ("2", "http_timeout")
    assert SignatureVerifier(SECRET).is_valid_request(built.content, headers) is True
    assert SignatureVerifier("other-secret").is_valid_request(built.content, headers) is False
    stale = events.request(payload, timestamp=int(time.time()) - 600)
    assert SignatureVerifier(SECRET).is_valid_request(stale.content, dict(stale.headers)) is False
    forged = events.request(payload, signature="v0=" + "0" * 64)
    assert SignatureVerifier(SECRET).is_valid_request(forged.content, dict(forged.headers)) is False
    assert "x-slack-retry-num" not in events.request(payload).headers

    body = json.loads(built.content)
    assert body["type"] == "event_callback"
    assert (body["team_id"], body["api_app_id"]) == ("T0001", "A0001")
    assert EVENT_ID.fullmatch(body["event_id"])
    assert events.envelope(event)["event_id"] != body["event_id"]
    assert body["event_time"] == int(float(event["ts"]))
    assert body["authorizations"][0]["user_id"] == "UBOT"
    assert body["event_context"].startswith("4-")
    sent = body["event"]
    assert (sent["text"], sent["blocks"][0]["elements"][0]["elements"][0]["text"]) == (
        "Tom &amp; Jerry &lt;3",
        "Tom & Jerry <3",
    )
    assert (sent["thread_ts"], sent["parent_user_id"], sent["channel_type"]) == (
        "1700000000.000100",
        "UBOT",
        "channel",
    )
    assert sent["event_ts"] == sent["ts"]


def test_interaction_requests_are_signed_form_posts() -> None:
    events = SlackEvents(base_url="http://127.0.0.1:9", signing_secret=SECRET)
    action = {"type": "block_actions", "actions": [{"action_id": "a", "value": "1 & 2"}]}
    built = events.interaction_request(action)
    headers = dict(built.headers)
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert SignatureVerifier(SECRET).is_valid_request(built.content, headers) is True
    assert json.loads(parse_qs(built.content.decode())["payload"][0]) == action


def test_changed_deleted_and_bot_event_shapes() -> None:
    events = SlackEvents(base_url="http://127.0.0.1:9", signing_secret=SECRET)
    original = events.message_event(CHANNEL, "UAGENT", "helo", thread_ts="1700000000.000100")
    changed = events.changed_event(CHANNEL, original, text="hello")
    assert (changed["subtype"], changed["hidden"], changed["channel"]) == (
        "message_changed",
        True,
        CHANNEL,
    )
    assert changed["message"]["text"] == "hello"
    assert changed["message"]["ts"] == original["ts"]
    assert changed["message"]["thread_ts"] == "1700000000.000100"
    assert changed["message"]["edited"]["user"] == "UAGENT"
    assert changed["previous_message"]["text"] == "helo"
    assert "channel" not in changed["message"]
    assert "channel" not in changed["previous_message"]

    deleted = events.deleted_event(CHANNEL, original)
    assert (deleted["subtype"], deleted["deleted_ts"]) == ("message_deleted", original["ts"])
    assert deleted["ts"] != original["ts"]

    own = events.bot_message_event(CHANNEL, "SMS from +1555", thread_ts="1700000000.000100")
    assert (own["user"], own["bot_id"], own["app_id"]) == ("UBOT", "BBOT", "A0001")
    assert "subtype" not in own
    legacy = events.bot_message_event(CHANNEL, "deploy done", legacy=True, bot_id="BOTHER")
    assert (legacy["subtype"], legacy["bot_id"], legacy["username"]) == (
        "bot_message",
        "BOTHER",
        "integration",
    )
    assert "user" not in legacy
    assert events.url_verification("abc")["challenge"] == "abc"


def test_reply_stores_the_message_then_sends_the_event(slack: SlackEmulator) -> None:
    parent = slack.add_message(CHANNEL, "From +15551230001: hi", user="UBOT")
    with Inbox() as inbox:
        events = SlackEvents(base_url=inbox.origin, signing_secret=SECRET)
        ts, response = events.reply(slack, CHANNEL, parent, "UAGENT", "see you at 5 & bring ID")
        b_ts, _ = events.reply(slack, CHANNEL, parent, "UAGENT", "for all", broadcast=True)
        payload = events.envelope(events.deleted_event(CHANNEL, slack.message(CHANNEL, ts) or {}))
        for retry in (None, 1):
            events.send(payload, retry_num=retry)
        requests_seen = list(inbox.requests)
    assert response.status_code == 200
    assert [m["ts"] for m in slack.thread(CHANNEL, parent)] == [ts, b_ts]
    stored = slack.message(CHANNEL, ts)
    assert stored is not None
    assert stored["text"] == "see you at 5 &amp; bring ID"

    first = requests_seen[0]
    assert first.path == "/slack/events"
    assert SignatureVerifier(SECRET).is_valid_request(first.body, first.headers) is True
    event = json.loads(first.body)["event"]
    assert (event["ts"], event["thread_ts"], event["user"]) == (ts, parent, "UAGENT")
    assert event["parent_user_id"] == "UBOT"
    assert event["blocks"] == stored["blocks"]

    broadcast = json.loads(requests_seen[1].body)["event"]
    assert (broadcast["subtype"], broadcast["ts"]) == ("thread_broadcast", b_ts)
    assert (broadcast["root"]["ts"], broadcast["root"]["reply_count"]) == (parent, 2)
    assert slack.top_level(CHANNEL)[0]["ts"] == parent

    retried = [json.loads(r.body) for r in requests_seen[2:]]
    assert retried[0]["event_id"] == retried[1]["event_id"]
    assert "x-slack-retry-num" not in requests_seen[2].headers
    assert requests_seen[3].headers["x-slack-retry-num"] == "1"


def test_bolt_accepts_the_events_and_ignores_its_own_posts(slack: SlackEmulator) -> None:
    app = App(
        signing_secret=SECRET,
        client=WebClient(base_url=slack.url, token="xoxb-test"),
        token_verification_enabled=False,
    )
    seen: list[dict[str, Any]] = []

    @app.event("message")
    def on_message(event: dict[str, Any]) -> None:
        seen.append(event)

    events = SlackEvents(base_url="http://127.0.0.1:9", signing_secret=SECRET)

    def dispatch(event: dict[str, Any], **kwargs: Any) -> int:
        built = events.request(events.envelope(event), **kwargs)
        request = BoltRequest(body=built.content.decode(), headers=dict(built.headers))
        return int(app.dispatch(request).status)

    human = events.message_event(CHANNEL, "UAGENT", "hi", thread_ts="1700000000.000100")
    assert dispatch(human) == 200
    assert dispatch(events.bot_message_event(CHANNEL, "echo", thread_ts=human["thread_ts"])) == 200
    assert dispatch(human, signature="v0=" + "0" * 64) == 401
    assert dispatch(human, timestamp=int(time.time()) - 600) == 401
    assert [e["ts"] for e in seen] == [human["ts"]]


# -- Twilio ------------------------------------------------------------------------------------


def test_twilio_create_message(twilio_emu: TwilioEmulator, tw: Client) -> None:
    msg = tw.messages.create(
        to="+15551230001",
        from_="+15550009999",
        body="hello",
        media_url=["https://example.com/a.png", "https://example.com/b.png"],
        status_callback="https://bridge.example/status",
    )
    assert msg.sid.startswith("SM")
    assert len(msg.sid) == 34
    assert (msg.status, msg.direction, msg.num_media) == ("queued", "outbound-api", "2")
    assert msg.date_created is not None
    sent = twilio_emu.sent
    assert [(s["sid"], s["to"], s["body"]) for s in sent] == [(msg.sid, "+15551230001", "hello")]
    assert sent[0]["media_urls"] == ["https://example.com/a.png", "https://example.com/b.png"]
    assert sent[0]["status_callback"] == "https://bridge.example/status"
    assert tw.messages(msg.sid).fetch().body == "hello"
    svc = tw.messages.create(to="+15551230001", messaging_service_sid="MG" + "0" * 32, body="x")
    assert svc.status == "accepted"


def test_twilio_validation_errors(twilio_emu: TwilioEmulator, tw: Client) -> None:
    with pytest.raises(TwilioRestException) as err:
        tw.messages.create(to="+15551230001", body="no sender")
    assert (err.value.status, err.value.code) == (400, 21603)
    with pytest.raises(TwilioRestException) as err:
        tw.messages.create(to="+15551230001", from_="+15550009999")
    assert (err.value.status, err.value.code) == (400, 21602)
    with pytest.raises(TwilioRestException) as err:
        tw.messages("SM" + "f" * 32).fetch()
    assert (err.value.status, err.value.code) == (404, 20404)
    assert twilio_emu.sent == []


def test_twilio_wrong_token_is_401(twilio_emu: TwilioEmulator) -> None:
    bad = Client(SID, "nope", http_client=ApiOriginHttpClient(twilio_emu.url))
    with pytest.raises(TwilioRestException) as err:
        bad.messages.create(to="+15551230001", from_="+15550009999", body="x")
    assert (err.value.status, err.value.code) == (401, 20003)
    other = Client("AC" + "9" * 32, TOKEN, http_client=ApiOriginHttpClient(twilio_emu.url))
    # Listing is different: a non-200 page raises plain TwilioException("Unable to fetch page",
    # response), not TwilioRestException, so there is no .status/.code on it.
    with pytest.raises(TwilioException) as plain:
        other.messages.list(limit=1)
    assert not isinstance(plain.value, TwilioRestException)
    assert plain.value.args[1].status_code == 401
    assert twilio_emu.sent == []


def test_twilio_list_filters_and_paging(twilio_emu: TwilioEmulator, tw: Client) -> None:
    for day in (1, 2, 3):
        twilio_emu.seed_message(
            to="+15550009999",
            from_="+15551230001",
            body=f"in{day}",
            date_sent=datetime(2024, 5, day, 12, tzinfo=UTC),
        )
    twilio_emu.seed_message(
        to="+15557770000", from_="+15550009999", body="other", direction="outbound-api"
    )
    listed = tw.messages.list(from_="+15551230001", page_size=2)
    assert [m.body for m in listed] == ["in3", "in2", "in1"]
    assert len(twilio_emu.calls_to("messages.list")) == 2  # two pages were fetched
    assert [m.body for m in tw.messages.list(date_sent=datetime(2024, 5, 2, tzinfo=UTC))] == ["in2"]
    after = tw.messages.list(date_sent_after=datetime(2024, 5, 2, tzinfo=UTC), to="+15550009999")
    assert [m.body for m in after] == ["in3", "in2"]
    page = tw.messages.page(page_size=3)
    assert len(list(page)) == 3
    assert page.next_page_url.startswith("https://api.twilio.com/2010-04-01/Accounts/")
    assert [m.body for m in page.next_page()] == ["in1"]


def test_twilio_429_and_500(twilio_emu: TwilioEmulator, tw: Client) -> None:
    twilio_emu.fail("messages.create", status=429, retry_after=3)
    with pytest.raises(TwilioRestException) as err:
        tw.messages.create(to="+15551230001", from_="+15550009999", body="x")
    assert (err.value.status, err.value.code) == (429, 20429)
    # TwilioRestException carries no headers; Retry-After is only on the client's last response.
    assert tw.http_client._test_only_last_response.headers["Retry-After"] == "3"
    twilio_emu.fail("messages.create", effect=True)
    with pytest.raises(TwilioRestException) as err:
        tw.messages.create(to="+15551230001", from_="+15550009999", body="lost")
    assert (err.value.status, err.value.code) == (500, 20500)
    assert [s["body"] for s in twilio_emu.sent] == ["lost"]
    twilio_emu.fail("messages.create", status=0)
    with pytest.raises(requests.ConnectionError):
        tw.messages.create(to="+15551230001", from_="+15550009999", body="dropped")


def test_twilio_numbers_and_media(twilio_emu: TwilioEmulator, tw: Client) -> None:
    pn = twilio_emu.add_number("+15550009999")
    found = tw.incoming_phone_numbers.list(phone_number="+15550009999")
    assert [n.sid for n in found] == [pn]
    tw.incoming_phone_numbers(pn).update(sms_url="https://bridge.example/sms")
    assert twilio_emu.number(pn)["sms_url"] == "https://bridge.example/sms"  # type: ignore[index]

    url = twilio_emu.add_media("MM" + "a" * 32, b"\x89PNG...", "image/png")
    req = urllib.request.Request(url)
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 401
    got = requests.get(url, auth=(SID, TOKEN), timeout=5)
    assert (got.status_code, got.headers["Content-Type"], got.content) == (
        200,
        "image/png",
        b"\x89PNG...",
    )


def test_transport_rewrites_only_the_twilio_api_host() -> None:
    client = ApiOriginHttpClient("http://127.0.0.1:5555/")
    assert client.rewrite_url(
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?a=1"
    ) == ("http://127.0.0.1:5555/2010-04-01/Accounts/AC1/Messages.json?a=1")
    assert client.rewrite_url("https://api.sydney.au1.twilio.com/2010-04-01/x.json") == (
        "http://127.0.0.1:5555/2010-04-01/x.json"
    )
    assert client.rewrite_url("https://messaging.twilio.com/v1/Services") == (
        "https://messaging.twilio.com/v1/Services"
    )
    default = ApiOriginHttpClient()
    same = "https://api.twilio.com/2010-04-01/Accounts.json"
    assert default.rewrite_url(same) == same
    for bad in ("ftp://x", "http://h/path", "127.0.0.1:5555"):
        with pytest.raises(ValueError, match="Twilio API base URL"):
            normalize_origin(bad)
