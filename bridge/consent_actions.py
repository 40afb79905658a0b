"""Consent changes people make in Slack, and the ledger as people read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from bridge.consent import Consent, Source, describe_source
from bridge.inbound import CONSENT_EVENT
from bridge.phones import international
from store import contacts, jobs
from store.models import ConsentChange, Contact, Conversation, Message


def mark_unsubscribed(
    session: Session, *, message_id: int, actor: str, at: datetime
) -> Contact | None:
    """Someone confirmed that a customer's text asked to stop; None for an unknown message.

    Opting out needs no role: honouring a wish to stop is always safe.
    """
    message = session.get(Message, message_id)
    if message is None or message.direction != "inbound":
        return None
    contact = session.get(Contact, message.contact_id)
    if contact is None:
        return None
    change_and_show(
        session,
        contact=contact,
        consent=Consent.UNSUBSCRIBED,
        source=Source.SLACK,
        actor=actor,
        cause=message.twilio_sid,
        message_id=message.id,
        at=at,
    )
    session.commit()
    return contact


def change_and_show(
    session: Session,
    *,
    contact: Contact,
    consent: Consent,
    source: Source,
    at: datetime,
    actor: str | None = None,
    cause: str | None = None,
    message_id: int | None = None,
) -> ConsentChange | None:
    """A consent change not made by a keyword text: into the ledger, and into every thread
    of the contact as an event with a new header. An opt-out stops what waits to be sent."""
    change = contacts.change_consent(
        session,
        contact=contact,
        consent=consent.value,
        source=source,
        actor=actor,
        cause=cause,
        message_id=message_id,
        at=at,
    )
    if change is None:
        return None
    assert contact.id is not None
    if consent is Consent.UNSUBSCRIBED:
        jobs.hurry(session, contact_id=contact.id, lane=jobs.SMS_LANE, at=at)
    query = select(Conversation).where(Conversation.contact_id == contact.id)
    for conversation in session.exec(query):
        jobs.enqueue_in_thread(
            session,
            kind=CONSENT_EVENT,
            conversation=conversation,
            consent_change_id=change.id,
            at=at,
        )
    return change


@dataclass(frozen=True)
class HistoryLine:
    """One ledger entry as people read it."""

    at: datetime
    consent: str
    previous: str
    how: str
    actor: str | None


def consent_history(session: Session, *, contact_id: int) -> tuple[str, list[HistoryLine]]:
    """Who the contact is, and every change of their consent, oldest first."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        return "", []
    name = contact.name or international(contact.phone)
    lines = [
        HistoryLine(
            at=change.at,
            consent=change.consent,
            previous=change.previous,
            how=describe_source(change.source, change.detail),
            actor=change.actor,
        )
        for change in contacts.consent_history(session, contact_id=contact_id)
    ]
    return name, lines
