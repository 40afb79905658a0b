"""`contacts forget`: erase a contact's messages and profile, keeping only what stops texts.

This module is the one place that says what erasure does to each table. Rows the append-only
consent ledger and reply audit point at are kept but emptied; those tables themselves hold no
number and no words, and are kept as evidence. The contact row stays, with its number replaced,
so the ledger still says who opted out when; the number survives only as a slow hash with its
consent (`erased_number`), so a forgotten opted-out person is never texted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, delete, update
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from bridge.inbound import UPDATE_CARD, sender_key
from bridge.phones import parse_e164
from store import intake, jobs, privacy
from store.models import (
    Contact,
    Conversation,
    DeliveryJob,
    MediaItem,
    Message,
    OutboundSms,
    TimezoneChange,
    WebhookIntake,
)

ERASED = "erased"


@dataclass(frozen=True)
class Erasure:
    """What was erased for one contact."""

    contact_id: int
    messages: int
    parts: int
    jobs: int
    zone_changes: int
    media: int = 0

    def summary(self) -> str:
        """One line for the operator and the erasure log."""
        return (
            f"{self.messages} messages and {self.parts} sent SMS parts emptied, "
            f"{self.media} pictures and files deleted, "
            f"{self.jobs} waiting jobs cancelled, {self.zone_changes} time zone changes deleted, "
            "profile erased"
        )


def find_to_forget(session: Session, raw: str, *, region: str) -> Contact | None:
    """The contact a number names: as stored, in E.164, or national in `region`."""
    for key in dict.fromkeys((raw.strip(), sender_key(raw), parse_e164(raw, region) or "")):
        found = session.exec(select(Contact).where(Contact.phone == key)).first()
        if key and found is not None:
            return found
    return None


def forget(session: Session, *, contact: Contact, actor: str, at: datetime) -> Erasure:
    """Erase the contact's data table by table, in the caller's transaction, and log it."""
    assert contact.id is not None
    phone, cid = contact.phone, contact.id
    privacy.remember_erased(session, phone=phone, consent=contact.consent, at=at)
    # message: kept (the ledger and the audit point at them) but emptied of words and number.
    messages = session.execute(
        update(Message)
        .where(col(Message.contact_id) == cid)
        .values(body="", from_number=_unless_ours(col(Message.from_number), phone))
        .values(to_number=_unless_ours(col(Message.to_number), phone), updated_at=at)
    ).rowcount  # type: ignore[attr-defined]
    ids = select(Message.id).where(col(Message.contact_id) == cid)
    # outbound_sms: the parts as sent.
    parts = session.execute(
        update(OutboundSms)
        .where(col(OutboundSms.message_id).in_(ids))
        .values(body="", to_number=ERASED, error_message=None, updated_at=at)
    ).rowcount  # type: ignore[attr-defined]
    # media_item: the pictures and files themselves, their URLs, and any /media token.
    media = session.execute(delete(MediaItem).where(col(MediaItem.message_id).in_(ids))).rowcount  # type: ignore[attr-defined]
    # delivery_job: nothing waiting may post or send their words after this.
    cancelled = session.execute(
        update(DeliveryJob)
        .where(col(DeliveryJob.contact_id) == cid, col(DeliveryJob.state) == jobs.PENDING)
        .values(state=jobs.DONE, completed_at=at, locked_until=None, last_error="erased")
    ).rowcount  # type: ignore[attr-defined]
    # webhook_intake: texts from the number stored but not applied yet (or parked); on a
    # SQLite file in the intake file beside it, deleted there at once.
    intake.delete_stored(session, col(WebhookIntake.order_key) == intake.text_order_key(phone))
    # conversation: kept; each thread's header is redrawn without the number or the name.
    threads = select(Conversation).where(
        col(Conversation.contact_id) == cid, col(Conversation.parent_ts).is_not(None)
    )
    for conversation in session.exec(threads):
        jobs.enqueue_in_thread(session, kind=UPDATE_CARD, conversation=conversation, at=at)
    # timezone_change: a zone is a fact about the person; nothing points at these rows.
    zones = session.execute(
        delete(TimezoneChange).where(col(TimezoneChange.contact_id) == cid)
    ).rowcount  # type: ignore[attr-defined]
    # contact: the profile goes; the consent stays, and the row for the ledger's sake.
    contact.phone = f"{ERASED}:{cid}"
    contact.name = contact.timezone = None
    contact.city = contact.state = contact.zip = contact.country = None
    contact.autoresponded_at = None
    session.add(contact)
    # Tables other features bring are erased here too: see SECURITY.md, "Erasure".
    erasure = Erasure(cid, int(messages), int(parts), int(cancelled), int(zones), int(media))
    privacy.log(
        session, action="forget", actor=actor, detail=erasure.summary(), at=at, contact_id=cid
    )
    return erasure


def _unless_ours(column: Mapped[str], phone: str) -> ColumnElement[str]:
    """The column's value, or `erased` where it is the contact's number."""
    return case((column == phone, ERASED), else_=column)


def is_erased(contact: Contact) -> bool:
    """Whether the contact was forgotten."""
    return contact.phone.startswith(f"{ERASED}:")
