"""An agent sets a contact's time zone: checked, recorded, shown, and held replies re-timed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from bridge.inbound import UPDATE_CARD
from bridge.localtime import is_zone
from store import jobs
from store.models import Contact, Conversation, DeliveryJob, TimezoneChange


def zone_problem(zone: str) -> str | None:
    """Why `zone` cannot be used, or None when it is a known IANA zone."""
    if not zone.strip():
        return "Enter a time zone such as America/Chicago."
    # "EST" and the like are zones too, but without daylight saving: people mean New York.
    if ("/" not in zone and zone != "UTC") or not is_zone(zone):
        return f"Unknown time zone {zone[:64]!r}: use an IANA name such as America/Chicago."
    return None


def set_zone(
    session: Session, *, contact_id: int, zone: str, actor: str, at: datetime
) -> str | None:
    """Store and record the zone; None when done, else why it was refused."""
    zone = zone.strip()
    problem = zone_problem(zone)
    if problem:
        return problem
    contact = session.get(Contact, contact_id)
    if contact is None:
        return "That contact is no longer known to smsbridge."
    if contact.timezone == zone:
        return None
    session.add(
        TimezoneChange(
            contact_id=contact_id, timezone=zone, previous=contact.timezone, actor=actor, at=at
        )
    )
    contact.timezone = zone
    session.add(contact)
    threads = select(Conversation).where(
        Conversation.contact_id == contact_id, col(Conversation.parent_ts).is_not(None)
    )
    for conversation in session.exec(threads):
        jobs.enqueue_in_thread(session, kind=UPDATE_CARD, conversation=conversation, at=at)
    # Held replies are timed by the old zone: asked again now, they are held anew.
    session.execute(
        update(DeliveryJob)
        .where(col(DeliveryJob.contact_id) == contact_id, col(DeliveryJob.state) == jobs.PENDING)
        .where(col(DeliveryJob.held_until).is_not(None), col(DeliveryJob.dispatch_time) > at)
        .values(dispatch_time=at)
    )
    session.commit()
    return None


def zone_history(session: Session, *, contact_id: int) -> list[TimezoneChange]:
    """Every time zone an agent set for the contact, oldest first."""
    query = select(TimezoneChange).where(TimezoneChange.contact_id == contact_id)
    return list(session.exec(query.order_by(col(TimezoneChange.id))))
