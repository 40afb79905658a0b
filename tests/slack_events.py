"""Sending Events API and interactivity requests to the app as Slack does: shaped and signed.

Shapes follow Slack's documented payloads and captured real ones: the `event_callback`
envelope (token, team_id, context_team_id, api_app_id, event, event_id, event_time,
authorizations, is_ext_shared_channel, event_context) and the `message` event family
(thread replies with thread_ts/parent_user_id, thread_broadcast with root, message_changed,
message_deleted, the app's own bot posts, and legacy `bot_message`).

Like Slack, a person's `text` arrives mrkdwn-escaped (&, <, > as &amp; &lt; &gt;) while the
rich_text block carries it verbatim; builders take the text as the person typed it.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from tests.emulators import SlackEmulator

Event = dict[str, Any]

USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"
_ID_CHARS = string.digits + string.ascii_uppercase
_CONTAINER_KEYS = ("channel", "event_ts", "channel_type")  # event-level, not message-level
_lock = threading.Lock()
_serial = itertools.count(1)
_last_us = 0


def new_event_id() -> str:
    """A fresh id shaped like Slack's ("Ev" + 10 of [0-9A-Z]), unique within this process."""
    with _lock:
        n = next(_serial)
    serial = ""
    for _ in range(4):
        n, digit = divmod(n, len(_ID_CHARS))
        serial = _ID_CHARS[digit] + serial
    return "Ev" + serial + "".join(secrets.choice(_ID_CHARS) for _ in range(6))


def new_ts() -> str:
    """A unique, increasing Slack ts ("1700000000.000100") near wall-clock time."""
    global _last_us
    with _lock:
        _last_us = max(int(time.time() * 1_000_000), _last_us + 1)
        us = _last_us
    return f"{us // 1_000_000}.{us % 1_000_000:06d}"


def escape(text: str) -> str:
    """Slack's mrkdwn escaping of what a person typed, as it appears in a message's `text`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def rich_text_blocks(text: str) -> list[dict[str, Any]]:
    """The rich_text block Slack attaches to a typed message (text verbatim, not escaped)."""
    block_id = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(4))
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return [{"type": "rich_text", "block_id": block_id, "elements": [section]}]


def ephemeral_press(
    user: str, action_id: str, value: str, *, channel: str, thread_ts: str
) -> dict[str, Any]:
    """The block_actions payload Slack sends for a button on an ephemeral message in a thread
    (it carries no `message`: ephemeral messages are not stored)."""
    return {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "container": {
            "type": "message",
            "message_ts": new_ts(),
            "channel_id": channel,
            "is_ephemeral": True,
            "thread_ts": thread_ts,
        },
        "trigger_id": f"{secrets.randbelow(10**9)}.{secrets.randbelow(10**9)}",
        "channel": {"id": channel, "name": "sms-inbox"},
        "response_url": "http://127.0.0.1:9/respond",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "held",
                "value": value,
                "action_ts": new_ts(),
                "text": {"type": "plain_text", "text": "x"},
            }
        ],
    }


def _as_message(message: Event) -> Event:
    """A copy of a stored message or an event, without the event-level keys."""
    out = copy.deepcopy(message)
    for key in _CONTAINER_KEYS:
        out.pop(key, None)
    return out


@dataclass
class SlackEvents:
    """Builds Slack's payloads and POSTs them, signed, to the app (slack_bolt verifies them)."""

    base_url: str
    signing_secret: str
    team_id: str = "T0001"
    api_app_id: str = "A0001"
    bot_user_id: str = "UBOT"
    bot_id: str = "BBOT"
    verification_token: str = "legacy-verification-token"
    events_path: str = "/slack/events"
    interactions_path: str = "/slack/events"

    # -- envelopes and transport ------------------------------------------------------------

    def envelope(
        self, event: Event, *, event_id: str | None = None, event_time: int | None = None
    ) -> dict[str, Any]:
        """Wrap `event` in the event_callback envelope (a fresh event_id unless given)."""
        if event_time is None:
            event_time = int(float(event.get("event_ts") or time.time()))
        return {
            "token": self.verification_token,
            "team_id": self.team_id,
            "context_team_id": self.team_id,
            "context_enterprise_id": None,
            "api_app_id": self.api_app_id,
            "event": event,
            "type": "event_callback",
            "event_id": event_id or new_event_id(),
            "event_time": event_time,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
            "event_context": self._event_context(event),
        }

    def _event_context(self, event: Event) -> str:
        context = {"et": event.get("type", ""), "tid": self.team_id, "aid": self.api_app_id}
        if event.get("channel"):
            context["cid"] = event["channel"]
        raw = json.dumps(context, separators=(",", ":")).encode()
        return "4-" + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def url_verification(self, challenge: str = "challenge-from-slack") -> dict[str, Any]:
        """The handshake Slack sends when the Request URL is saved (expects the challenge)."""
        token = self.verification_token
        return {"token": token, "challenge": challenge, "type": "url_verification"}

    def _signed(
        self,
        path: str,
        body: str,
        content_type: str,
        timestamp: int | None,
        signature: str | None,
        extra: dict[str, str],
    ) -> httpx.Request:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        if signature is None:
            signature = SignatureVerifier(self.signing_secret).generate_signature(
                timestamp=stamp, body=body
            )
        headers = {
            "Content-Type": content_type,
            "User-Agent": USER_AGENT,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature or "",
            **extra,
        }
        url = self.base_url.rstrip("/") + path
        return httpx.Request("POST", url, content=body.encode(), headers=headers)

    def request(
        self,
        payload: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> httpx.Request:
        """The signed JSON POST Slack would make for `payload` (not sent)."""
        extra = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        body = json.dumps(payload)
        return self._signed(self.events_path, body, "application/json", timestamp, signature, extra)

    def send(
        self,
        payload: dict[str, Any],
        *,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
        timestamp: int | None = None,
        signature: str | None = None,
        timeout: float = 10,
    ) -> httpx.Response:
        """POST `payload` (usually an envelope) as JSON, signed; a retry re-sends the same one."""
        built = self.request(
            payload,
            retry_num=retry_num,
            retry_reason=retry_reason,
            timestamp=timestamp,
            signature=signature,
        )
        return _send(built, timeout)

    def send_event(
        self, event: Event, *, event_id: str | None = None, timeout: float = 10
    ) -> httpx.Response:
        """Wrap `event` in a fresh envelope and send it."""
        return self.send(self.envelope(event, event_id=event_id), timeout=timeout)

    def interaction_request(
        self,
        payload: dict[str, Any],
        *,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> httpx.Request:
        """The signed form POST (`payload=<json>`) Slack makes for interactivity (not sent)."""
        body = urlencode({"payload": json.dumps(payload)})
        return self._signed(
            self.interactions_path,
            body,
            "application/x-www-form-urlencoded",
            timestamp,
            signature,
            {},
        )

    def interaction(
        self,
        payload: dict[str, Any],
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        timeout: float = 10,
    ) -> httpx.Response:
        """POST an interactivity payload (block_actions, view_submission, ...) signed."""
        built = self.interaction_request(payload, timestamp=timestamp, signature=signature)
        return _send(built, timeout)

    # -- event builders ---------------------------------------------------------------------

    def message_event(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        ts: str | None = None,
        thread_ts: str | None = None,
        parent_user_id: str | None = None,
        broadcast: bool = False,
        root: Event | None = None,
        channel_type: str = "channel",
        raw: bool = False,
        **fields: Any,
    ) -> Event:
        """A person's `message` event; with thread_ts a thread reply (parent by the bot unless
        parent_user_id says otherwise); broadcast=True makes it "also send to channel"
        (subtype thread_broadcast, with `root`). raw=True: `text` is Slack markup already
        (as when the client turned a picked mention into `<@U…>`). `fields` go in last."""
        ts = ts or new_ts()
        event: Event = {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": text if raw else escape(text),
            "user": user,
            "ts": ts,
            "team": self.team_id,
            "blocks": rich_text_blocks(text),
        }
        if thread_ts and broadcast:
            event = {"type": "message", "subtype": "thread_broadcast", **event}
            event["thread_ts"] = thread_ts
            event["root"] = root or {
                "type": "message",
                "user": parent_user_id or self.bot_user_id,
                "ts": thread_ts,
                "thread_ts": thread_ts,
                "reply_count": 1,
                "reply_users_count": 1,
                "latest_reply": ts,
                "reply_users": [user],
            }
        elif thread_ts:
            self._in_thread(event, thread_ts, parent_user_id)
        return self._placed(event, channel, ts, channel_type, fields)

    def changed_event(
        self,
        channel: str,
        previous_message: Event,
        *,
        text: str | None = None,
        message: Event | None = None,
        editor: str | None = None,
        ts: str | None = None,
        channel_type: str = "channel",
    ) -> Event:
        """message_changed for an edit: `message` as given, or previous_message with the new
        (typed) text and an `edited` stamp. previous_message may be a stored message
        (`slack.message(...)`) or an event dict."""
        ts = ts or new_ts()
        previous = _as_message(previous_message)
        if message is None:
            message = copy.deepcopy(previous)
            if text is not None:
                message["text"] = escape(text)
                message["blocks"] = rich_text_blocks(text)
            editor = editor or str(previous.get("user") or self.bot_user_id)
            message["edited"] = {"user": editor, "ts": f"{int(float(ts))}.000000"}
        return {
            "type": "message",
            "subtype": "message_changed",
            "message": _as_message(message),
            "previous_message": previous,
            "channel": channel,
            "hidden": True,
            "ts": ts,
            "event_ts": ts,
            "channel_type": channel_type,
        }

    def deleted_event(
        self,
        channel: str,
        previous_message: Event,
        *,
        ts: str | None = None,
        channel_type: str = "channel",
    ) -> Event:
        """message_deleted for previous_message (deleted_ts = its ts)."""
        ts = ts or new_ts()
        previous = _as_message(previous_message)
        return {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "channel": channel,
            "previous_message": previous,
            "deleted_ts": previous["ts"],
            "ts": ts,
            "event_ts": ts,
            "channel_type": channel_type,
        }

    def bot_message_event(
        self,
        channel: str,
        text: str,
        *,
        ts: str | None = None,
        thread_ts: str | None = None,
        parent_user_id: str | None = None,
        user: str | None = None,
        bot_id: str | None = None,
        app_id: str | None = None,
        legacy: bool = False,
        username: str = "integration",
        channel_type: str = "channel",
        **fields: Any,
    ) -> Event:
        """A bot's post. Default: an app's chat.postMessage echo (this app's unless user/bot_id/
        app_id say otherwise): no subtype, `user` = bot user, bot_id, app_id, bot_profile.
        legacy=True: an integration/webhook/custom-username post: subtype bot_message,
        `username`, no `user`."""
        ts = ts or new_ts()
        bot_id = bot_id or self.bot_id
        app_id = app_id or self.api_app_id
        event: Event
        if legacy:
            event = {
                "subtype": "bot_message",
                "text": text,
                "username": username,
                "icons": {},
                "type": "message",
                "ts": ts,
                "bot_id": bot_id,
                "app_id": app_id,
            }
        else:
            event = {
                "bot_id": bot_id,
                "type": "message",
                "text": text,
                "user": user or self.bot_user_id,
                "ts": ts,
                "app_id": app_id,
                "team": self.team_id,
                "bot_profile": {
                    "id": bot_id,
                    "deleted": False,
                    "name": "smsbridge",
                    "updated": int(time.time()),
                    "app_id": app_id,
                    "icons": {},
                    "team_id": self.team_id,
                },
            }
        event["blocks"] = rich_text_blocks(text)
        if thread_ts:
            self._in_thread(event, thread_ts, parent_user_id)
        return self._placed(event, channel, ts, channel_type, fields)

    def _in_thread(self, event: Event, thread_ts: str, parent_user_id: str | None) -> None:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = parent_user_id or self.bot_user_id

    @staticmethod
    def _placed(
        event: Event, channel: str, ts: str, channel_type: str, fields: dict[str, Any]
    ) -> Event:
        """The event-level keys Slack adds, then the caller's own fields."""
        event.update(channel=channel, event_ts=ts, channel_type=channel_type)
        event.update(fields)
        return event

    # -- emulator-backed conveniences -------------------------------------------------------

    def reply(
        self,
        slack: SlackEmulator,
        channel: str,
        thread_ts: str,
        user: str,
        text: str,
        *,
        broadcast: bool = False,
        event_id: str | None = None,
        raw: bool = False,
        **fields: Any,
    ) -> tuple[str, httpx.Response]:
        """A person replies in a thread: store it in the emulator (so conversations.replies
        shows it), then send the `message` event with the same ts. Returns (ts, response).
        `fields` go into the event only."""
        parent = slack.message(channel, thread_ts)
        if parent is None:
            raise ValueError(f"the emulator has no message {thread_ts} in {channel}")
        blocks = rich_text_blocks(text)
        ts = slack.add_message(
            channel,
            text if raw else escape(text),
            user=user,
            thread_ts=thread_ts,
            blocks=blocks,
            reply_broadcast=broadcast,
        )
        root = None
        if broadcast:
            replies = slack.thread(channel, thread_ts)
            users = list(dict.fromkeys(str(r.get("user", "")) for r in replies))
            root = _as_message(parent)
            root.pop("metadata", None)
            root.update(
                thread_ts=thread_ts,
                reply_count=len(replies),
                reply_users_count=len(users),
                latest_reply=replies[-1]["ts"],
                reply_users=users,
            )
        event = self.message_event(
            channel,
            user,
            text,
            ts=ts,
            thread_ts=thread_ts,
            parent_user_id=str(parent.get("user") or self.bot_user_id),
            broadcast=broadcast,
            root=root,
            raw=raw,
            blocks=blocks,
            **fields,
        )
        return ts, self.send(self.envelope(event, event_id=event_id))


def _send(request: httpx.Request, timeout: float) -> httpx.Response:
    with httpx.Client(timeout=timeout) as client:
        return client.send(request)
