"""Taking in what agents write in a contact's thread: stored and queued before Slack's ack."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from bridge.config import Settings
from bridge.gates import is_note
from store import conversations, jobs, media, replies
from store.models import Contact, Conversation, Message

log = logging.getLogger(__name__)

SEND_REPLY, RECALL_NOTICE, FAILURE_NOTICE = "send_reply", "recall_notice", "failure_notice"
DELAY_NOTICE = "delay_notice"
# Statuses of a reply whose SMS may already be on a phone (a failed one never arrived).
GONE_OUT = frozenset({"sending", "sent"})


class Outcome(StrEnum):
    """What became of a thread message."""

    QUEUED = "queued"
    NOTE = "note"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"
    UPDATED = "updated"
    CANCELLED = "cancelled"
    RECALL_NOTED = "recall_noted"


@dataclass(frozen=True)
class ThreadMessage:
    """A human message in a thread, as the chat side reports it."""

    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    files: int = 0
    # The Slack IDs of those files, sent with the reply as MMS.
    file_ids: tuple[str, ...] = ()


def sms_lane_key(business_number: str) -> str:
    """What SMS jobs are paced and paused by: the sending number."""
    return f"sms:{business_number}"


def receive_reply(
    session: Session, *, settings: Settings, message: ThreadMessage, at: datetime
) -> Outcome:
    """Store a thread reply and queue its sending, once per Slack message."""
    conversation = conversations.by_thread(
        session, channel=message.channel, thread_ts=message.thread_ts
    )
    if conversation is None:
        log.debug("message in a thread that is not a contact's: ignored")
        return Outcome.IGNORED
    assert conversation.id is not None
    if conversations.message_by_slack_ts(session, conversation_id=conversation.id, ts=message.ts):
        return Outcome.DUPLICATE
    contact = session.get(Contact, conversation.contact_id)
    assert contact is not None
    if not message.text.strip() and media.uploaded_by_us(session, file_ids=message.file_ids):
        return Outcome.IGNORED  # our own upload of a customer's picture, never sent back
    note = is_note(message.text, settings.note_prefix)
    reply = Message(
        contact_id=conversation.contact_id,
        conversation_id=conversation.id,
        direction="outbound",
        kind="note" if note else "reply",
        body=message.text,
        from_number=conversation.business_number,
        to_number=contact.phone,
        slack_ts=message.ts,
        author=message.user,
        num_media=message.files,
        status="note" if note else "pending",
        created_at=at,
        updated_at=at,
    )
    try:
        with session.begin_nested():
            session.add(reply)
    except IntegrityError:
        # A retry of the same event raced us and stored it first.
        session.rollback()
        return Outcome.DUPLICATE
    if note:
        replies.audit(session, message=reply, decision="note", reason="internal note", at=at)
    else:
        media.add_outbound(session, message=reply, file_ids=message.file_ids, at=at)
        _enqueue(session, SEND_REPLY, reply, conversation, at)
    session.commit()
    return Outcome.NOTE if note else Outcome.QUEUED


def receive_edit(
    session: Session,
    *,
    settings: Settings,
    channel: str,
    thread_ts: str,
    ts: str,
    text: str,
    at: datetime,
) -> Outcome:
    """An agent edited a thread message: a reply not yet sent takes the new text."""
    found = _reply(session, channel=channel, thread_ts=thread_ts, ts=ts)
    if found is None:
        return Outcome.IGNORED
    reply, conversation = found
    if reply.body == text:
        return Outcome.IGNORED  # unfurls and other changes that leave the text alone
    if is_note(text, settings.note_prefix):
        return _cancel(session, reply, conversation, at, reason="edited into a note")
    changed = session.execute(
        update(Message)
        .where(col(Message.id) == reply.id, col(Message.status) == "pending")
        .values(body=text, updated_at=at)
    )
    if changed.rowcount == 1:  # type: ignore[attr-defined]
        session.commit()
        return Outcome.UPDATED
    session.rollback()
    return _note_recall(session, reply, conversation, at)


def receive_delete(
    session: Session, *, channel: str, thread_ts: str, ts: str, at: datetime
) -> Outcome:
    """An agent deleted a thread message: a reply not yet sent is cancelled."""
    found = _reply(session, channel=channel, thread_ts=thread_ts, ts=ts)
    if found is None:
        return Outcome.IGNORED
    reply, conversation = found
    return _cancel(session, reply, conversation, at, reason="deleted in Slack")


def _reply(
    session: Session, *, channel: str, thread_ts: str, ts: str
) -> tuple[Message, Conversation] | None:
    conversation = conversations.by_thread(session, channel=channel, thread_ts=thread_ts)
    if conversation is None or conversation.id is None:
        return None
    reply = conversations.message_by_slack_ts(session, conversation_id=conversation.id, ts=ts)
    if reply is None or reply.kind != "reply":
        return None
    return reply, conversation


def _cancel(
    session: Session, reply: Message, conversation: Conversation, at: datetime, *, reason: str
) -> Outcome:
    cancelled = session.execute(
        update(Message)
        .where(col(Message.id) == reply.id, col(Message.status) == "pending")
        .values(status="cancelled", updated_at=at)
    )
    if cancelled.rowcount == 1:  # type: ignore[attr-defined]
        replies.audit(session, message=reply, decision="cancelled", reason=reason, at=at)
        session.commit()
        return Outcome.CANCELLED
    session.rollback()
    return _note_recall(session, reply, conversation, at)


def _note_recall(
    session: Session, reply: Message, conversation: Conversation, at: datetime
) -> Outcome:
    """Say once in the thread that an SMS already sent cannot be recalled."""
    session.refresh(reply)
    if reply.status not in GONE_OUT or reply.recall_noted_at is not None:
        return Outcome.IGNORED
    reply.recall_noted_at = at
    session.add(reply)
    _enqueue(session, RECALL_NOTICE, reply, conversation, at)
    session.commit()
    return Outcome.RECALL_NOTED


def _enqueue(
    session: Session, kind: str, reply: Message, conversation: Conversation, at: datetime
) -> None:
    assert reply.id is not None and conversation.id is not None
    sms = kind == SEND_REPLY
    jobs.enqueue(
        session,
        kind=kind,
        contact_id=reply.contact_id,
        channel=sms_lane_key(conversation.business_number) if sms else conversation.channel,
        conversation_id=conversation.id,
        message_id=reply.id,
        lane=jobs.SMS_LANE if sms else jobs.SLACK_LANE,
        at=at,
    )
