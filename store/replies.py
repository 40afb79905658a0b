"""Agents' replies: the SMS parts they are sent as, and the audit of every decision."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from store.models import Message, OutboundSms, ReplyAudit


def audit(
    session: Session,
    *,
    message: Message,
    decision: str,
    reason: str,
    at: datetime,
    actor: str | None = None,
) -> None:
    """Record a decision about a reply in the caller's transaction; `actor`: who made it
    when not the reply's author (a colleague who pressed a button)."""
    session.add(
        ReplyAudit(
            message_id=message.id,
            contact_id=message.contact_id,
            author=actor or message.author or "",
            decision=decision,
            reason=reason[:500],
            at=at,
        )
    )


def audit_trail(session: Session, *, contact_id: int) -> list[ReplyAudit]:
    """Every reply decision about a contact, oldest first."""
    query = (
        select(ReplyAudit).where(ReplyAudit.contact_id == contact_id).order_by(col(ReplyAudit.id))
    )
    return list(session.exec(query))


def add_parts(session: Session, *, message: Message, bodies: Sequence[str], at: datetime) -> None:
    """The SMS a reply is sent as, numbered in sending order."""
    assert message.id is not None
    for index, body in enumerate(bodies):
        session.add(
            OutboundSms(
                message_id=message.id,
                part=index,
                body=body,
                to_number=message.to_number,
                from_number=message.from_number,
                created_at=at,
                updated_at=at,
            )
        )


def parts_of(session: Session, *, message_id: int) -> list[OutboundSms]:
    """A reply's SMS parts in sending order."""
    query = (
        select(OutboundSms)
        .where(OutboundSms.message_id == message_id)
        .order_by(col(OutboundSms.part))
    )
    return list(session.exec(query))


def known_sids(session: Session, *, to_number: str) -> set[str]:
    """The SIDs of messages we already recorded as sent to a number."""
    query = select(OutboundSms.twilio_sid).where(
        OutboundSms.to_number == to_number, col(OutboundSms.twilio_sid).is_not(None)
    )
    return {sid for sid in session.exec(query) if sid}


# Twilio's message statuses in the order a message moves through them; callbacks can arrive
# out of order, and a status never moves back.
_PROGRESS = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "read": 5,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
}


def sender_of(session: Session, *, sid: str) -> str | None:
    """The number a message we sent went from."""
    part = session.exec(select(OutboundSms).where(OutboundSms.twilio_sid == sid)).first()
    return part.from_number if part is not None else None


def record_status(
    session: Session, *, sid: str, status: str, error_code: int | None, at: datetime
) -> bool:
    """Note Twilio's latest status for a message we sent; False when it is not ours."""
    part = session.exec(select(OutboundSms).where(OutboundSms.twilio_sid == sid)).first()
    if part is None:
        return False
    if _PROGRESS.get(status, -1) >= _PROGRESS.get(part.status, -1):
        part.status = status[:20]
        part.error_code = error_code or part.error_code
        part.updated_at = at
        session.add(part)
        session.commit()
    return True
