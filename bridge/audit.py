"""The audit log as people read it: sends, refusals, overrides, consent changes, erasures."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bridge.consent import describe_source
from bridge.phones import international
from store.models import (
    ConsentChange,
    Contact,
    Message,
    OutboundSms,
    PrivacyLog,
    ReplyAudit,
    TimezoneChange,
)

# What each reply decision is, for the reader of the log.
_REPLY_EVENTS = {
    "sent": "send",
    "accepted": "send approved",
    "refused": "refusal",
    "send-now": "override",
    "held": "held",
    "cancelled": "cancel",
    "failed": "send failed",
    "note": "note",
}


@dataclass(frozen=True)
class Entry:
    """One line of the audit log."""

    at: datetime
    event: str
    who: str
    contact: str
    detail: str


def entries(
    session: Session, *, since: datetime | None = None, contact_id: int | None = None
) -> list[Entry]:
    """Every audited event, oldest first, optionally from `since` and for one contact."""
    # At the same instant a consent change comes first: it is what the sends that follow obey.
    found = [
        *_consent(session, since, contact_id),
        *_zones(session, since, contact_id),
        *_replies(session, since, contact_id),
        *_automatic(session, since, contact_id),
        *_erasures(session, since, contact_id),
    ]
    names = _contacts(session, {e.contact for e in found if e.contact})
    return sorted(
        (Entry(e.at, e.event, e.who, names.get(e.contact, e.contact), e.detail) for e in found),
        key=lambda e: e.at,
    )


def _replies(session: Session, since: datetime | None, cid: int | None) -> Iterator[Entry]:
    query = select(ReplyAudit)
    if since is not None:
        query = query.where(col(ReplyAudit.at) >= since)
    if cid is not None:
        query = query.where(ReplyAudit.contact_id == cid)
    for row in session.exec(query):
        event = _REPLY_EVENTS.get(row.decision, row.decision)
        detail = f"reply {row.message_id}: {row.reason}"
        yield Entry(row.at, event, row.author or "?", str(row.contact_id), detail)


def _automatic(session: Session, since: datetime | None, cid: int | None) -> Iterator[Entry]:
    """Texts smsbridge sent by itself: the autoresponder, START and HELP answers."""
    # Sent means Twilio took its first part; the message's own status moves on once posted.
    query = (
        select(Message, OutboundSms)
        .join(OutboundSms, col(OutboundSms.message_id) == col(Message.id))
        .where(Message.kind == "auto", OutboundSms.part == 0)
        .where(col(OutboundSms.twilio_sid).is_not(None))
    )
    if since is not None:
        query = query.where(col(OutboundSms.created_at) >= since)
    if cid is not None:
        query = query.where(Message.contact_id == cid)
    for message, part in session.exec(query):
        at = part.attempted_at or part.created_at
        detail = f"automatic text {message.id} ({message.keyword or 'auto'})"
        yield Entry(at, "send", "smsbridge", str(message.contact_id), detail)


def _consent(session: Session, since: datetime | None, cid: int | None) -> Iterator[Entry]:
    query = select(ConsentChange)
    if since is not None:
        query = query.where(col(ConsentChange.at) >= since)
    if cid is not None:
        query = query.where(ConsentChange.contact_id == cid)
    for row in session.exec(query):
        how = describe_source(row.source, row.detail)
        who = row.actor or ("customer" if row.source.startswith(("keyword", "twilio-opt")) else "")
        detail = f"{row.previous} -> {row.consent} ({how})"
        yield Entry(row.at, "consent change", who or row.source, str(row.contact_id), detail)


def _zones(session: Session, since: datetime | None, cid: int | None) -> Iterator[Entry]:
    query = select(TimezoneChange)
    if since is not None:
        query = query.where(col(TimezoneChange.at) >= since)
    if cid is not None:
        query = query.where(TimezoneChange.contact_id == cid)
    for row in session.exec(query):
        detail = f"{row.previous or 'inferred'} -> {row.timezone}"
        yield Entry(row.at, "time zone set", row.actor, str(row.contact_id), detail)


def _erasures(session: Session, since: datetime | None, cid: int | None) -> Iterator[Entry]:
    query = select(PrivacyLog)
    if since is not None:
        query = query.where(col(PrivacyLog.at) >= since)
    if cid is not None:
        query = query.where(PrivacyLog.contact_id == cid)
    for row in session.exec(query):
        contact = str(row.contact_id) if row.contact_id is not None else ""
        yield Entry(row.at, f"erasure ({row.action})", row.actor, contact, row.detail)


def _contacts(session: Session, ids: set[str]) -> dict[str, str]:
    """Contact ids as the log shows them: the number, or `erased:ID` once forgotten."""
    wanted = [int(i) for i in ids if i.isdecimal()]
    if not wanted:
        return {}
    query = select(Contact.id, Contact.phone).where(col(Contact.id).in_(wanted))
    return {str(cid): international(phone) for cid, phone in session.exec(query)}
