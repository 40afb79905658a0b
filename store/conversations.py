"""Conversations (a contact's thread) and their messages."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from store.models import Conversation, Message


def open_conversation(
    session: Session, *, contact_id: int, business_number: str
) -> Conversation | None:
    """The contact's open conversation with this business number, if any."""
    query = (
        select(Conversation)
        .where(Conversation.contact_id == contact_id)
        .where(Conversation.business_number == business_number)
        .where(Conversation.status == "open")
        .order_by(col(Conversation.id).desc())
    )
    return session.exec(query).first()


def start_conversation(
    session: Session, *, contact_id: int, business_number: str, channel: str, at: datetime
) -> Conversation:
    """A new open conversation; its thread is posted later by the delivery worker."""
    conversation = Conversation(
        contact_id=contact_id,
        business_number=business_number,
        channel=channel,
        created_at=at,
        last_message_at=at,
    )
    session.add(conversation)
    session.flush()
    return conversation


def message_by_sid(session: Session, *, sid: str) -> Message | None:
    """The message Twilio knows by this SID, if we stored it."""
    return session.exec(select(Message).where(Message.twilio_sid == sid)).first()
