"""Slack's part in the sandbox: what people do in the channel reaches the bridge, signed.

Each request is shaped as Slack shapes it (`slack_payloads`) and signed with the signing
secret; what the bridge answers is journaled for the page.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bridge.sandbox import slack_payloads as payloads
from bridge.sandbox.emulators import SlackEmulator
from bridge.sandbox.world import Journal

_FORM = "application/x-www-form-urlencoded"


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
        self._base = public_url.rstrip("/")
        self._http = http
        self._journal = journal

    async def reply(self, user: str, thread_ts: str, text: str) -> int:
        """`user` writes `text` in the thread: stored in Slack, then the message event."""
        parent = self.emulator.message(self.channel, thread_ts)
        if parent is None:
            return 404
        ts = self.emulator.add_message(
            self.channel,
            payloads.escape(text),
            user=user,
            thread_ts=thread_ts,
            blocks=payloads.rich_text(text),
        )
        event = payloads.thread_reply_event(
            self.emulator, self.channel, parent, user=user, text=text, ts=ts
        )
        return await self._event(event)

    async def click(self, user: str, message_ts: str, action_id: str, block_index: int) -> int:
        """`user` clicks a button of a stored message: the `block_actions` request."""
        message = self.emulator.message(self.channel, message_ts)
        clicked = payloads.find_button(message, action_id, block_index) if message else None
        if message is None or clicked is None:
            return 404
        payload = payloads.block_actions(
            self.emulator,
            self.channel,
            user=user,
            message=message,
            clicked=clicked,
            response_url=self._response_url(user),
        )
        answer = await self._post(urlencode({"payload": json.dumps(payload)}), _FORM)
        return self._note("interactivity", answer)

    async def command(self, user: str, command: str, text: str) -> int:
        """`user` types `/command text` in the inbox channel; the answer only they see.

        An app answers a slash command in its HTTP response or later at `response_url`
        (the sandbox's `/sandbox/slack/respond/USER`, which shows it the same way).
        """
        form = payloads.slash_command(
            self.emulator,
            self.channel,
            user=user,
            command=command,
            text=text,
            response_url=self._response_url(user),
        )
        answer = await self._post(urlencode(form), _FORM)
        status = self._note(f"{command} command", answer)
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
        return await self._event(payloads.home_opened_event(self.emulator, user))

    async def echo_bot_posts(self, echoed: dict[str, str]) -> None:
        """Slack tells an app of its own posts and edits too: the bridge must ignore them."""
        for message in self._bot_messages():
            ts, edit = str(message["ts"]), str((message.get("edited") or {}).get("ts", ""))
            if echoed.get(ts) == edit:
                continue
            first = ts not in echoed
            echoed[ts] = edit
            await self._event(payloads.own_post_event(self.channel, message, first=first))

    def _bot_messages(self) -> list[dict[str, Any]]:
        found = []
        for parent in self.emulator.top_level(self.channel):
            found += [parent, *self.emulator.thread(self.channel, parent["ts"])]
        return [m for m in found if m.get("bot_id") == self.emulator.bot_id]

    def _response_url(self, user: str) -> str:
        return f"{self._base}/sandbox/slack/respond/{user}"

    async def _event(self, event: dict[str, Any]) -> int:
        body = json.dumps(payloads.envelope(self.emulator, event))
        return self._note(payloads.event_name(body), await self._post(body, "application/json"))

    def _note(self, what: str, answer: httpx.Response | None) -> int:
        status = answer.status_code if answer is not None else 0
        self._journal.append({"from": "Slack", "what": what, "status": status})
        return status

    async def _post(self, body: str, content_type: str) -> httpx.Response | None:
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": str(self._verifier.generate_signature(timestamp=stamp, body=body)),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        try:
            return await self._http.post(
                f"{self._base}/slack/events", content=body.encode(), headers=headers
            )
        except httpx.HTTPError:
            return None
