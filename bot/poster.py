"""The Slack side of the chat sink: posts, header updates and reconciliation."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from slack_sdk import WebClient

from bot.blocks import card_blocks, card_text, render
from bot.slack_api import call
from bridge.cards import ContactCard
from bridge.ids import ChannelId, SlackTs
from bridge.pacing import Budget, LocalPacer, Pacer, take_or_wait
from bridge.ports import ChatPost, ChatUnavailable, Paced

log = logging.getLogger(__name__)

METADATA_EVENT = "smsbridge_post"
_BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format"})
_HISTORY_PAGES = 10


def make_client(*, token: str, base_url: str, timeout: int = 15) -> WebClient:
    """A WebClient without the automatic retry: a blind retry could post twice."""
    return WebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


class SlackPoster:
    """Implements the domain's ChatSink with chat.postMessage and friends."""

    def __init__(
        self, client: WebClient, *, rate: float, burst: int, pacer: Pacer | None = None
    ) -> None:
        self._client = client
        # Several processes post to one channel: the service passes the database's budget.
        self._pacer = pacer or LocalPacer(Budget(rate=rate, burst=burst))

    def post(self, post: ChatPost) -> SlackTs:
        """Post, paced per channel; the post carries its key in message metadata.

        Raises Paced, without calling Slack, when the channel's budget has no post for now.
        """
        text, blocks = render(post.content)
        args: dict[str, Any] = {
            "channel": post.channel,
            "text": text,
            "blocks": blocks,
            "unfurl_links": False,
            "unfurl_media": False,
            "metadata": {"event_type": METADATA_EVENT, "event_payload": {"key": post.key}},
        }
        if post.thread_ts:
            args["thread_ts"] = post.thread_ts
            if post.broadcast:
                args["reply_broadcast"] = True
        wait = take_or_wait(self._pacer, post.channel)
        if wait > 0:
            raise Paced(wait)
        try:
            response = self._call("chat_postMessage", **args)
        except ChatUnavailable as refused:
            if refused.reason not in _BLOCK_ERRORS:
                raise
            log.warning("Slack refused our blocks (%s); posting text only", refused.reason)
            args.pop("blocks")
            response = self._call("chat_postMessage", **args)
        return SlackTs(str(response["ts"]))

    def post_notice(self, channel: str, text: str) -> str:
        """Post our own status text (no customer words) in the channel, paced like any post."""
        wait = take_or_wait(self._pacer, channel)
        if wait > 0:
            raise Paced(wait)
        response = self._call(
            "chat_postMessage", channel=channel, text=text, blocks=_notice(text), unfurl_links=False
        )
        return str(response["ts"])

    def update_notice(self, channel: str, ts: str, text: str) -> None:
        """chat.update a status message with new text."""
        self._call("chat_update", channel=channel, ts=ts, text=text, blocks=_notice(text))

    def update_card(self, channel: ChannelId, ts: SlackTs, card: ContactCard) -> None:
        """chat.update the thread parent."""
        self._call(
            "chat_update", channel=channel, ts=ts, text=card_text(card), blocks=card_blocks(card)
        )

    def find(
        self, channel: ChannelId, key: str, *, thread_ts: SlackTs | None, since: datetime
    ) -> SlackTs | None:
        """Look through recent history for a post made with `key`."""
        cursor: str | None = None
        for _ in range(_HISTORY_PAGES):
            if thread_ts:
                page = self._call(
                    "conversations_replies",
                    channel=channel,
                    ts=thread_ts,
                    cursor=cursor,
                    limit=200,
                    include_all_metadata=True,
                )
            else:
                page = self._call(
                    "conversations_history",
                    channel=channel,
                    oldest=f"{since.timestamp():.6f}",
                    cursor=cursor,
                    limit=200,
                    include_all_metadata=True,
                )
            for message in page.get("messages", []):
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("key") == key:
                    return SlackTs(str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    def _call(self, method: str, **kwargs: Any) -> dict[str, Any]:
        return call(self._client, method, **kwargs)


def _notice(text: str) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
