"""Conversations (a contact's thread) and their messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from store.models import Conversation, Message


def open_conversation(
    session: Session, *, contact_id: int, business_number: str
) -> Conversation | None:
    """The contact's open conversation with this business number, if any."""
    params = {"contact_id": contact_id, "business_number": business_number}
    return session.exec(_OPEN, params=params).first()


# Built once, as the statements below: they run for every inbound text, and building a
# statement costs more than running it (issue 9, G2).
_OPEN = (
    select(Conversation)
    .where(col(Conversation.contact_id) == bindparam("contact_id"))
    .where(col(Conversation.business_number) == bindparam("business_number"))
    .where(col(Conversation.status) == "open")
    .order_by(col(Conversation.id).desc())
)


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


def message_id_by_sid(session: Session, *, sid: str) -> int | None:
    """The id of the message Twilio knows by this SID, if we stored it."""
    return session.exec(_ID_BY_SID, params={"sid": sid}).first()


_ID_BY_SID = select(Message.id).where(col(Message.twilio_sid) == bindparam("sid"))


def by_thread(session: Session, *, channel: str, thread_ts: str) -> Conversation | None:
    """The conversation whose thread has this parent, from our own mapping."""
    query = (
        select(Conversation)
        .where(Conversation.channel == channel)
        .where(Conversation.parent_ts == thread_ts)
    )
    return session.exec(query).first()


def message_by_slack_ts(session: Session, *, conversation_id: int, ts: str) -> Message | None:
    """The message of a conversation that is this Slack message."""
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id)
        .where(Message.slack_ts == ts)
    )
    return session.exec(query).first()


def texted_first(session: Session, *, contact_id: int, business_number: str) -> bool:
    """Whether the contact has ever texted this business number."""
    query = (
        select(Message.id)
        .where(Message.contact_id == contact_id)
        .where(Message.direction == "inbound")
        .where(Message.to_number == business_number)
        .limit(1)
    )
    return session.exec(query).first() is not None
