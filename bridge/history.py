"""Earlier messages with a contact, for a new thread: ours and Twilio's log, oldest first."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import or_
from sqlmodel import Session, col, select

from bridge.inbox_cards import Speaker, Transcript, TranscriptLine
from bridge.ports import ServiceUnavailable
from store.models import Contact, Conversation, Message, OutboundSms

log = logging.getLogger(__name__)

HISTORY_SIZE = 50
LOG_UNAVAILABLE = "Earlier messages from Twilio's log could not be loaded."
# Outbound texts that reached the customer; refused, cancelled or failed ones did not.
_WENT_OUT = ("sending", "sent")
# The automatic texts that are conversation; the others answer keywords, which are events.
AUTORESPONDER = "autorespond"


@dataclass(frozen=True)
class LoggedSms:
    """A message in the SMS provider's log."""

    sid: str
    inbound: bool
    body: str
    at: datetime
    num_media: int = 0


class MessageLog(Protocol):
    """The provider's record of messages between two numbers."""

    def between(self, contact: str, business: str, *, limit: int) -> list[LoggedSms]:
        """The latest messages each way; raises ServiceUnavailable when it cannot be read."""


def earlier_messages(
    session: Session, *, conversation: Conversation, contact: Contact, log_: MessageLog
) -> Transcript | None:
    """The last 50 messages before the conversation began; None when there are none.

    Keyword texts and their automatic answers are consent events, not conversation, so our
    own are left out (and their SIDs keep them out of Twilio's log too). Outbound texts in
    the log that we did not send were sent by other systems (campaigns, flows): automated.
    """
    ours = _ours(session, conversation, contact)
    known = _known_sids(session, contact)
    note = None
    try:
        logged = log_.between(contact.phone, conversation.business_number, limit=HISTORY_SIZE)
    except ServiceUnavailable as failed:
        log.warning("no history from Twilio for conversation %s: %s", conversation.id, failed)
        logged, note = [], LOG_UNAVAILABLE
    theirs = [
        TranscriptLine(
            sms.at,
            Speaker.CUSTOMER if sms.inbound else Speaker.AUTOMATED,
            sms.body,
            sms.num_media,
        )
        for sms in logged
        if sms.sid not in known and sms.at < conversation.created_at
    ]
    lines = sorted([*ours, *theirs], key=lambda line: line.at)[-HISTORY_SIZE:]
    if not lines:
        return Transcript((), note) if note else None
    return Transcript(tuple(lines), note)


def _ours(session: Session, conversation: Conversation, contact: Contact) -> list[TranscriptLine]:
    number = conversation.business_number
    query = (
        select(Message)
        .where(Message.contact_id == contact.id)
        .where(or_(col(Message.to_number) == number, col(Message.from_number) == number))
        .where(col(Message.created_at) < conversation.created_at)
        .where(
            or_(
                col(Message.kind) == "text",
                col(Message.status).in_(_WENT_OUT)
                & or_(
                    col(Message.kind) == "reply",
                    (col(Message.kind) == "auto") & (col(Message.keyword) == AUTORESPONDER),
                ),
            )
        )
        .order_by(col(Message.created_at).desc())
        .limit(HISTORY_SIZE)
    )
    lines = []
    for message in session.exec(query):
        if message.direction == "inbound":
            speaker = Speaker.CUSTOMER
        else:
            speaker = Speaker.AGENT if message.kind == "reply" else Speaker.AUTOMATED
        author = message.author if speaker is Speaker.AGENT else None
        lines.append(
            TranscriptLine(message.created_at, speaker, message.body, message.num_media, author)
        )
    return lines


def _known_sids(session: Session, contact: Contact) -> set[str]:
    """Every SID of a message we stored or sent for the contact, keywords included."""
    inbound = select(Message.twilio_sid).where(Message.contact_id == contact.id)
    sent = (
        select(OutboundSms.twilio_sid)
        .join(Message, col(Message.id) == col(OutboundSms.message_id))
        .where(Message.contact_id == contact.id)
    )
    return {sid for sid in [*session.exec(inbound), *session.exec(sent)] if sid}
