"""The small interfaces the domain needs from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from bridge.cards import ContactCard, PostContent
from bridge.ids import ChannelId, SlackTs


class ChatUnavailable(Exception):
    """The chat service did not take a post.

    `uncertain`: it may have taken it anyway. `thread_gone`: the thread (or its header) it
    was aimed at no longer exists.
    """

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        uncertain: bool = False,
        configuration: bool = False,
        thread_gone: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.uncertain = uncertain
        self.configuration = configuration
        self.thread_gone = thread_gone


@dataclass(frozen=True)
class ChatPost:
    """A post to make; `key` identifies it so a lost answer can be reconciled."""

    channel: ChannelId
    content: PostContent
    key: str
    thread_ts: SlackTs | None = None


class ChatSink(Protocol):
    """Where conversations are mirrored (Slack in production)."""

    def post(self, post: ChatPost) -> SlackTs:
        """Post and return the message's ts; raise ChatUnavailable when it was not taken."""

    def update_card(self, channel: ChannelId, ts: SlackTs, card: ContactCard) -> None:
        """Replace the thread's header with `card`."""

    def find(
        self, channel: ChannelId, key: str, *, thread_ts: SlackTs | None, since: datetime
    ) -> SlackTs | None:
        """The ts of an earlier post made with `key`, if the chat service has it."""


class Clock(Protocol):
    """The current time; injected so tests control it."""

    def now(self) -> datetime:
        """Timezone-aware now."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Timezone-aware now in UTC."""
        return datetime.now(UTC)
