"""Slack's part in the sandbox: people's messages and clicks become signed requests to the bridge.

Shapes follow Slack's Events API (`event_callback` with a `message` event) and interactivity
(`block_actions`, form-encoded as `payload=`); each is signed with the signing secret.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bridge.sandbox.emulators import SlackEmulator
from bridge.sandbox.world import Journal

Event = dict[str, Any]


class SandboxSlack:
    """Posts what people do in the sandbox's channel to `/slack/events`, as Slack would."""

    def __init__(
        self,
        emulator: SlackEmulator,
        *,
        channel: str,
        signing_secret: str,
        public_url: str,
        http: httpx.AsyncClient,
        journal: Journal,
    ) -> None:
        self.emulator = emulator
        self.channel = channel
        self._verifier = SignatureVerifier(signing_secret)
        self._url = f"{public_url.rstrip('/')}/slack/events"
        self._http = http
        self._journal = journal

    async def reply(self, user: str, thread_ts: str, text: str) -> int:
        """`user` writes `text` in the thread: stored in Slack, then the message event."""
        parent = self.emulator.message(self.channel, thread_ts)
        if parent is None:
            return 404
        blocks = _rich_text(text)
        ts = self.emulator.add_message(
            self.channel, _escape(text), user=user, thread_ts=thread_ts, blocks=blocks
        )
        event: Event = {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": _escape(text),
            "user": user,
            "ts": ts,
            "blocks": blocks,
            "team": self.emulator.team_id,
            "thread_ts": thread_ts,
            "parent_user_id": str(parent.get("user") or self.emulator.bot_user_id),
            "channel": self.channel,
            "event_ts": ts,
            "channel_type": "channel",
        }
        return await self._send_json(self._envelope(event))

    async def click(self, user: str, message_ts: str, action_id: str, block_index: int) -> int:
        """`user` clicks a button of a stored message: the `block_actions` request."""
        message = self.emulator.message(self.channel, message_ts)
        if message is None:
            return 404
        found = _find_button(message, action_id, block_index)
        if found is None:
            return 404
        block_id, button = found
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": self.channel,
            "is_ephemeral": False,
        }
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        replies = self.emulator.thread(self.channel, message_ts)
        if replies and not message.get("thread_ts"):
            # Slack shows a parent with replies with its thread summary.
            users = list(dict.fromkeys(str(r.get("user", "")) for r in replies))
            message |= {
                "thread_ts": message_ts,
                "reply_count": len(replies),
                "reply_users_count": len(users),
                "reply_users": users,
                "latest_reply": replies[-1]["ts"],
            }
        name = str(self.emulator.users.get(user, {}).get("name", user))
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": {"id": user, "username": name, "name": name, "team_id": self.emulator.team_id},
            "api_app_id": self.emulator.app_id,
            "token": "sandbox-verification-token",
            "container": container,
            "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**12)}",
            "team": {"id": self.emulator.team_id, "domain": "sandbox"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": self.channel, "name": "sms-inbox"},
            "message": message,
            "state": {"values": {}},
            "response_url": f"{self._url.rsplit('/slack/', 1)[0]}/sandbox/slack/respond/{user}",
            "actions": [{**button, "block_id": block_id, "action_ts": f"{time.time():.6f}"}],
        }
        body = urlencode({"payload": json.dumps(payload)})
        return await self._send(body, "application/x-www-form-urlencoded")

    async def command(self, user: str, command: str, text: str) -> int:
        """`user` types `/command text` in the inbox channel; what the app answers, only they see.

        An app answers a slash command in its HTTP response or later at `response_url`
        (the sandbox's `/sandbox/slack/respond/USER`, which shows it the same way).
        """
        name = str(self.emulator.users.get(user, {}).get("name", user))
        form = {
            "token": "sandbox-verification-token",
            "team_id": self.emulator.team_id,
            "team_domain": "sandbox",
            "channel_id": self.channel,
            "channel_name": "sms-inbox",
            "user_id": user,
            "user_name": name,
            "command": command,
            "text": text,
            "api_app_id": self.emulator.app_id,
            "is_enterprise_install": "false",
            "response_url": f"{self._url.rsplit('/slack/', 1)[0]}/sandbox/slack/respond/{user}",
            "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**12)}",
        }
        answer = await self._deliver(urlencode(form), "application/x-www-form-urlencoded")
        status = answer.status_code if answer is not None else 0
        self._journal.append({"from": "Slack", "what": f"{command} command", "status": status})
        if answer is not None and status == 200 and answer.content:
            with contextlib.suppress(ValueError):
                self.show_privately(user, answer.json())
        return status

    def show_privately(self, user: str, message: Any) -> None:
        """An answer only `user` sees, in the channel (as Slack shows a command's answer)."""
        if not isinstance(message, dict) or not (message.get("text") or message.get("blocks")):
            return
        self.emulator.ephemerals.append(
            {
                "channel": self.channel,
                "user": user,
                "text": str(message.get("text") or ""),
                "blocks": message.get("blocks") or [],
                "message_ts": f"{time.time():.6f}",
            }
        )

    async def open_home(self, user: str) -> int:
        """`user` opens the app's Home tab: the `app_home_opened` event."""
        event: Event = {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user[1:]}",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        }
        view = self.emulator.views.get(user)
        if view is not None:
            event["view"] = view
        return await self._send_json(self._envelope(event))

    async def echo_bot_posts(self, echoed: dict[str, str]) -> None:
        """Slack tells an app of its own posts and edits too: the bridge must ignore them."""
        for message in self._bot_messages():
            ts, edit = str(message["ts"]), str((message.get("edited") or {}).get("ts", ""))
            if echoed.get(ts) == edit:
                continue
            first = ts not in echoed
            echoed[ts] = edit
            shown = {k: v for k, v in message.items() if k not in ("metadata", "reactions")}
            event: Event = {**shown, "channel": self.channel, "channel_type": "channel"}
            if first:
                event["event_ts"] = ts
            else:
                now = f"{time.time():.6f}"
                event = {
                    "type": "message",
                    "subtype": "message_changed",
                    "message": shown,
                    "channel": self.channel,
                    "hidden": True,
                    "ts": now,
                    "event_ts": now,
                    "channel_type": "channel",
                }
            await self._send_json(self._envelope(event))

    def _bot_messages(self) -> list[dict[str, Any]]:
        found = []
        for parent in self.emulator.top_level(self.channel):
            found += [parent, *self.emulator.thread(self.channel, parent["ts"])]
        return [m for m in found if m.get("bot_id") == self.emulator.bot_id]

    def _envelope(self, event: Event) -> dict[str, Any]:
        team = self.emulator.team_id
        return {
            "token": "sandbox-verification-token",
            "team_id": team,
            "context_team_id": team,
            "api_app_id": self.emulator.app_id,
            "event": event,
            "type": "event_callback",
            "event_id": "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "authorizations": [
                {"team_id": team, "user_id": self.emulator.bot_user_id, "is_bot": True}
            ],
            "is_ext_shared_channel": False,
        }

    async def _send_json(self, payload: dict[str, Any]) -> int:
        return await self._send(json.dumps(payload), "application/json")

    async def _send(self, body: str, content_type: str) -> int:
        answer = await self._deliver(body, content_type)
        status = answer.status_code if answer is not None else 0
        what = "interactivity" if content_type.endswith("urlencoded") else _event_name(body)
        self._journal.append({"from": "Slack", "what": what, "status": status})
        return status

    async def _deliver(self, body: str, content_type: str) -> httpx.Response | None:
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": str(self._verifier.generate_signature(timestamp=stamp, body=body)),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        try:
            return await self._http.post(self._url, content=body.encode(), headers=headers)
        except httpx.HTTPError:
            return None


def _event_name(body: str) -> str:
    event = json.loads(body).get("event", {})
    name = str(event.get("type", "?"))
    if event.get("subtype"):
        name += f" ({event['subtype']})"
    if event.get("bot_id") or (event.get("message") or {}).get("bot_id"):
        name += ", the app's own"
    return name


def _escape(text: str) -> str:
    """Slack's escaping of what a person typed, as it arrives in a message's `text`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _rich_text(text: str) -> list[dict[str, Any]]:
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return [{"type": "rich_text", "block_id": secrets.token_hex(2), "elements": [section]}]


def _find_button(
    message: dict[str, Any], action_id: str, index: int
) -> tuple[str, dict[str, Any]] | None:
    """The block_id and button clicked; Slack names blocks posted without a block_id itself."""
    blocks = message.get("blocks") or []
    if not 0 <= index < len(blocks) or blocks[index].get("type") != "actions":
        return None
    for element in blocks[index].get("elements") or []:
        if element.get("action_id") == action_id:
            return str(blocks[index].get("block_id") or f"b{index}"), dict(element)
    return None
