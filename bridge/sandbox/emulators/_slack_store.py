"""In-memory channels, threads and cursor pagination behind SlackEmulator."""

from __future__ import annotations

import base64
import binascii
import copy
import time
from decimal import Decimal, InvalidOperation
from typing import Any

Message = dict[str, Any]


class SlackError(Exception):
    """A Slack-level failure answered as HTTP 200 {"ok": false, "error": code}."""

    def __init__(self, code: str) -> None:
        """Keep the Slack error code."""
        super().__init__(code)
        self.code = code


def ts_key(ts: str, error: str = "invalid_ts") -> Decimal:
    """Parse a Slack ts ("1700000000.000100") into an exactly comparable number."""
    try:
        return Decimal(str(ts))
    except InvalidOperation:
        raise SlackError(error) from None


def encode_cursor(ts: str) -> str:
    """Opaque cursor in Slack's style: base64 of "next_ts:<ts>"."""
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def decode_cursor(cursor: str) -> Decimal:
    """Inverse of encode_cursor; raises SlackError("invalid_cursor") on garbage."""
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise SlackError("invalid_cursor") from None
    prefix, _, ts = raw.partition(":")
    if prefix != "next_ts" or not ts:
        raise SlackError("invalid_cursor")
    return ts_key(ts, "invalid_cursor")


def is_reply(message: Message) -> bool:
    """True for a message that lives inside a thread (not the parent)."""
    thread_ts = message.get("thread_ts")
    return bool(thread_ts) and thread_ts != message.get("ts")


class TimeRange:
    """Slack's oldest/latest/inclusive window."""

    def __init__(self, oldest: Any, latest: Any, inclusive: bool) -> None:
        """Parse the bounds; missing oldest means 0, missing latest means now (unbounded)."""
        self.oldest = ts_key(oldest, "invalid_ts_oldest") if oldest not in (None, "") else None
        self.latest = ts_key(latest, "invalid_ts_latest") if latest not in (None, "") else None
        self.inclusive = inclusive

    def __contains__(self, ts: str) -> bool:
        """Whether ts falls inside the window."""
        key = ts_key(ts)
        if self.oldest is not None and (
            key < self.oldest or (key == self.oldest and not self.inclusive)
        ):
            return False
        return not (
            self.latest is not None
            and (key > self.latest or (key == self.latest and not self.inclusive))
        )


class SlackStore:
    """Messages per channel in ts order; not locked itself (the emulator holds its lock)."""

    def __init__(self) -> None:
        """Start empty."""
        self._channels: dict[str, list[Message]] = {}
        self._index: dict[tuple[str, str], Message] = {}
        self._last_us = 0

    def next_ts(self) -> str:
        """A unique, strictly increasing ts close to wall-clock time."""
        now_us = int(time.time() * 1_000_000)
        self._last_us = max(now_us, self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def add(self, channel: str, message: Message) -> None:
        """Append a message (its ts must come from next_ts)."""
        self._channels.setdefault(channel, []).append(message)
        self._index[(channel, message["ts"])] = message

    def remove(self, channel: str, ts: str) -> None:
        """Delete a message; its replies, if any, stay (as Slack keeps them)."""
        message = self._index.pop((channel, str(ts)), None)
        if message is not None:
            self._channels[channel].remove(message)

    def get(self, channel: str, ts: str) -> Message | None:
        """The stored (mutable) message, or None."""
        return self._index.get((channel, str(ts)))

    def channels(self) -> list[str]:
        """Every channel that has at least one message."""
        return list(self._channels)

    def top_level(self, channel: str) -> list[Message]:
        """Non-reply messages, oldest first."""
        return [m for m in self._channels.get(channel, []) if not is_reply(m)]

    def replies(self, channel: str, parent_ts: str) -> list[Message]:
        """Replies in a thread (excluding the parent), oldest first."""
        return [
            m
            for m in self._channels.get(channel, [])
            if is_reply(m) and m.get("thread_ts") == parent_ts
        ]

    def render(self, channel: str, message: Message, include_metadata: bool) -> Message:
        """A detached copy as the Web API shows it, with thread summary on parents."""
        out = copy.deepcopy(message)
        if not include_metadata:
            out.pop("metadata", None)
        if not is_reply(message):
            replies = self.replies(channel, message["ts"])
            if replies:
                users = list(dict.fromkeys(str(r.get("user", "")) for r in replies))
                out.update(
                    thread_ts=message["ts"],
                    reply_count=len(replies),
                    reply_users_count=len(users),
                    reply_users=users,
                    latest_reply=replies[-1]["ts"],
                    is_locked=False,
                    subscribed=False,
                )
        return out

    def history(
        self, channel: str, *, limit: int, cursor: str, window: TimeRange, metadata: bool
    ) -> dict[str, Any]:
        """conversations.history payload: channel timeline newest first, cursor paginated."""
        timeline = [
            m
            for m in self._channels.get(channel, [])
            if (not is_reply(m) or m.get("subtype") == "thread_broadcast") and m["ts"] in window
        ]
        timeline.reverse()
        if cursor:
            before = decode_cursor(cursor)
            timeline = [m for m in timeline if ts_key(m["ts"]) < before]
        page, has_more = timeline[:limit], len(timeline) > limit
        return {
            "ok": True,
            "messages": [self.render(channel, m, metadata) for m in page],
            "has_more": has_more,
            "pin_count": 0,
            "response_metadata": {"next_cursor": encode_cursor(page[-1]["ts"]) if has_more else ""},
        }

    def thread_payload(
        self,
        channel: str,
        ts: str,
        *,
        limit: int,
        cursor: str,
        window: TimeRange,
        metadata: bool,
        parent_every_page: bool,
    ) -> dict[str, Any]:
        """conversations.replies payload: parent first, then replies oldest first."""
        found = self.get(channel, ts)
        if found is None:
            raise SlackError("thread_not_found")
        parent = self.get(channel, found["thread_ts"]) if is_reply(found) else found
        if parent is None:
            raise SlackError("thread_not_found")
        items = [m for m in self.replies(channel, parent["ts"]) if m["ts"] in window]
        if cursor:
            after = decode_cursor(cursor)
            items = [m for m in items if ts_key(m["ts"]) > after]
        with_parent = not cursor or parent_every_page
        budget = limit if parent_every_page else limit - int(with_parent)
        chunk = items[: max(budget, 0)]
        has_more = len(items) > len(chunk)
        page = ([parent] if with_parent else []) + chunk
        return {
            "ok": True,
            "messages": [self.render(channel, m, metadata) for m in page],
            "has_more": has_more,
            "response_metadata": {"next_cursor": encode_cursor(page[-1]["ts"]) if has_more else ""},
        }
