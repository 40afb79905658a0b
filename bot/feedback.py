"""Telling an agent what became of a reply: reactions on it, and private messages."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient

from bot.blocks import held_blocks
from bot.escape import escape
from bot.slack_api import call
from bridge.ids import ChannelId, SlackTs
from bridge.ports import ChatUnavailable

log = logging.getLogger(__name__)

# Errors that mean the reaction is already the way we want it.
_ALREADY = frozenset({"already_reacted", "no_reaction"})


class SlackFeedback:
    """Implements the domain's ReplyFeedback; failures are logged, never raised."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def react(
        self, channel: ChannelId, ts: SlackTs, name: str, *, remove: str | None = None
    ) -> None:
        """reactions.remove `remove`, then reactions.add `name`."""
        if remove:
            self._quietly("reactions_remove", channel=channel, timestamp=ts, name=remove)
        self._quietly("reactions_add", channel=channel, timestamp=ts, name=name)

    def tell(
        self, channel: ChannelId, user: str, thread_ts: SlackTs, text: str, *, markup: bool = False
    ) -> None:
        """chat.postEphemeral, seen only by `user`, in the thread when there is one.

        Plain text is escaped; `markup=True` is for text built as Slack markup already.
        """
        args = {"channel": channel, "user": user, "text": text if markup else escape(text)}
        if thread_ts:
            args["thread_ts"] = thread_ts
        self._quietly("chat_postEphemeral", **args)

    def unreact(self, channel: ChannelId, ts: SlackTs, name: str) -> None:
        """reactions.remove."""
        self._quietly("reactions_remove", channel=channel, timestamp=ts, name=name)

    def offer_hold(
        self, channel: ChannelId, user: str, thread_ts: SlackTs, text: str, reply_id: int
    ) -> None:
        """chat.postEphemeral with the Send now and Cancel buttons."""
        blocks = held_blocks(escape(text), reply_id)
        args: dict[str, Any] = {"channel": channel, "user": user, "text": escape(text)}
        if thread_ts:
            args["thread_ts"] = thread_ts
        self._quietly("chat_postEphemeral", blocks=blocks, **args)

    def _quietly(self, method: str, **kwargs: Any) -> None:
        try:
            call(self._client, method, **kwargs)
        except ChatUnavailable as failed:
            if failed.reason not in _ALREADY:
                log.warning("Slack %s failed: %s", method, failed.reason)
