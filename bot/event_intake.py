"""Thread messages from Slack's `message` events: which thread they touch, and applying them.

The endpoint stores a message event raw and acks at once; the intake processor applies it
later, in arrival order per thread (a reply, then its edit, then its deletion). Applying is
idempotent on the Slack message's ts, so a retried or re-applied event changes nothing twice.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bridge.config import Settings
from bridge.intake import applied_at
from bridge.reply_intake import (
    Outcome,
    ThreadMessage,
    receive_delete,
    receive_edit,
    receive_reply,
)
from store.intake import Claimed

log = logging.getLogger(__name__)

SLACK = "slack"
# Subtypes that are a person writing in the thread; the rest are joins, topics, bots...
_HUMAN_SUBTYPES = frozenset({None, "thread_broadcast", "file_share"})


def inbox_channels(settings: Settings) -> frozenset[str]:
    """The channels whose threads are contacts' conversations."""
    return frozenset(c for c in (settings.slack_channel, *settings.routes.values()) if c)


def thread_of(event: dict[str, Any], channels: Collection[str]) -> str | None:
    """The order key (channel and thread) of a message event that may change something;
    None for one that is ignored whatever the database holds (other channels, bots, joins,
    top-level messages)."""
    channel = _text(event.get("channel"))
    if channel not in channels:
        return None
    subtype = event.get("subtype")
    if subtype == "message_changed":
        message = event.get("message")
        if not isinstance(message, dict) or message.get("bot_id"):
            return None
        ts, thread_ts = _text(message.get("ts")), _text(message.get("thread_ts"))
    elif subtype == "message_deleted":
        previous = event.get("previous_message")
        if not isinstance(previous, dict) or previous.get("bot_id"):
            return None
        ts, thread_ts = _text(event.get("deleted_ts")), _text(previous.get("thread_ts"))
    elif subtype in _HUMAN_SUBTYPES:
        if event.get("bot_id") or not _text(event.get("user")):
            return None
        ts, thread_ts = _text(event.get("ts")), _text(event.get("thread_ts"))
    else:
        return None
    if not ts or not thread_ts or ts == thread_ts:
        return None
    return f"{SLACK}:{channel}:{thread_ts}"


def apply_message(
    session: Session,
    *,
    settings: Settings,
    channels: Collection[str],
    event: dict[str, Any],
    at: datetime,
) -> Outcome:
    """Store what a message event means for a contact's thread (a reply, an edit, a delete)."""
    if thread_of(event, channels) is None:
        return Outcome.IGNORED
    channel = _text(event.get("channel"))
    subtype = event.get("subtype")
    if subtype == "message_changed":
        message = event["message"]
        return receive_edit(
            session,
            settings=settings,
            channel=channel,
            thread_ts=_text(message.get("thread_ts")),
            ts=_text(message.get("ts")),
            text=_text(message.get("text")),
            at=at,
        )
    if subtype == "message_deleted":
        return receive_delete(
            session,
            channel=channel,
            thread_ts=_text(event["previous_message"].get("thread_ts")),
            ts=_text(event.get("deleted_ts")),
            at=at,
        )
    files = event.get("files")
    message = ThreadMessage(
        channel,
        _text(event.get("thread_ts")),
        _text(event.get("ts")),
        _text(event.get("user")),
        _text(event.get("text")),
        len(files) if isinstance(files, list) else 0,
        _file_ids(files),
    )
    return receive_reply(session, settings=settings, message=message, at=at)


def slack_handler(
    settings: Settings, channels: Collection[str]
) -> Callable[[Session, Claimed], None]:
    """The intake handler for stored Slack events (the envelope, as Slack sent it)."""

    def apply(session: Session, row: Claimed) -> None:
        body = json.loads(row.payload)
        event = body.get("event") if isinstance(body, dict) else None
        if not isinstance(event, dict):
            log.error("stored Slack event %s has no event; dropped", row.id)
            return
        outcome = apply_message(
            session, settings=settings, channels=channels, event=event, at=applied_at(row)
        )
        log.debug("thread message: %s", outcome.value)

    return apply


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _file_ids(files: Any) -> tuple[str, ...]:
    """The IDs in a `file_share` event's `files`, in order."""
    if not isinstance(files, list):
        return ()
    return tuple(f["id"] for f in files if isinstance(f, dict) and isinstance(f.get("id"), str))
