"""Contacts and their consent ledger."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from store import privacy
from store.models import ConsentChange, Contact


def find_contact(session: Session, *, phone: str) -> Contact | None:
    """The contact with this number, if we know them."""
    return session.exec(_BY_PHONE, params={"phone": phone}).first()


# Built once: it runs for every inbound text, and building it costs more than running it.
_BY_PHONE = select(Contact).where(col(Contact.phone) == bindparam("phone"))


def get_or_create_contact(session: Session, *, phone: str, at: datetime) -> Contact:
    """The contact with this number, created (never subscribed) on first contact."""
    contact = find_contact(session, phone=phone)
    if contact is not None:
        return contact
    contact = Contact(phone=phone, created_at=at)
    try:
        with session.begin_nested():
            session.add(contact)
    except IntegrityError:
        # Another request created the same contact between our read and write.
        existing = find_contact(session, phone=phone)
        assert existing is not None
        return existing
    if privacy.erased_consent(session, phone=phone) == "unsubscribed":
        # A forgotten contact who had opted out is still opted out: nothing automatic goes.
        change_consent(
            session, contact=contact, consent="unsubscribed", source=privacy.ERASURE_SOURCE, at=at
        )
    return contact


def change_consent(
    session: Session,
    *,
    contact: Contact,
    consent: str,
    source: str,
    at: datetime,
    detail: str | None = None,
    actor: str | None = None,
    cause: str | None = None,
    message_id: int | None = None,
) -> ConsentChange | None:
    """Set the contact's consent and keep the change in the ledger; None if unchanged."""
    if contact.consent == consent:
        return None
    assert contact.id is not None
    change = ConsentChange(
        contact_id=contact.id,
        consent=consent,
        previous=contact.consent,
        source=source,
        detail=detail[:100] if detail else None,
        actor=actor,
        cause=cause[:200] if cause else None,
        message_id=message_id,
        at=at,
    )
    session.add(change)
    contact.consent = consent
    contact.consent_changed_at = at
    session.add(contact)
    session.flush()
    return change


def latest_consent_change(session: Session, *, contact_id: int) -> ConsentChange | None:
    """The change that set the contact's current consent, if any."""
    query = (
        select(ConsentChange)
        .where(ConsentChange.contact_id == contact_id)
        .order_by(ConsentChange.id.desc())  # type: ignore[union-attr]
        .limit(1)
    )
    return session.exec(query).first()


def consent_history(session: Session, *, contact_id: int) -> list[ConsentChange]:
    """Every consent change of a contact, oldest first."""
    query = (
        select(ConsentChange)
        .where(ConsentChange.contact_id == contact_id)
        .order_by(ConsentChange.id)  # type: ignore[arg-type]
    )
    return list(session.exec(query))
