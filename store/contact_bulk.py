"""Applying a contact import in batches, and streaming contacts out for export."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

from sqlalchemy import Engine, insert, update
from sqlmodel import Session, col, select

from store import privacy
from store.models import ConsentChange, Contact, Conversation, DeliveryJob

BATCH = 1000
# Opt-outs that only the customer can undo: an import never re-subscribes them.
_CUSTOMER_OPT_OUTS = frozenset(
    {"keyword", "twilio-opt-out-type", "twilio-error-21610", "slack", privacy.ERASURE_SOURCE}
)


class Row(Protocol):
    """What the importer needs of a checked CSV row."""

    @property
    def line(self) -> int: ...
    @property
    def phone(self) -> str: ...
    @property
    def name(self) -> str | None: ...
    @property
    def consent(self) -> str | None: ...
    @property
    def timezone(self) -> str | None: ...


class Outcome(Protocol):
    """Where the importer reports what it did."""

    created: int
    updated: int
    unchanged: int

    def refuse(self, line: int, reason: str) -> None:
        """A row the importer would not apply."""


def apply_rows(
    engine: Engine, rows: Iterable[Row], *, at: datetime, cause: str, outcome: Outcome
) -> None:
    """Create or update contacts, a batch per transaction; consent changes go in the ledger."""
    iterator = iter(rows)
    while batch := list(islice(iterator, BATCH)):
        with Session(engine) as session:
            _apply_batch(session, batch, at=at, cause=cause, outcome=outcome)
            session.commit()


def _apply_batch(
    session: Session, batch: Sequence[Row], *, at: datetime, cause: str, outcome: Outcome
) -> None:
    phones = [row.phone for row in batch]
    existing = {
        c.phone: c for c in session.exec(select(Contact).where(col(Contact.phone).in_(phones)))
    }
    opted_out = _customer_opt_outs(session, [c.id for c in existing.values() if c.id])
    new_rows = [row for row in batch if row.phone not in existing]
    forgotten = privacy.erased_opt_outs(
        session, [row.phone for row in new_rows if row.consent == "subscribed"]
    )
    for row in new_rows:
        if row.phone in forgotten:
            outcome.refuse(
                row.line,
                "not subscribed: this number was forgotten after the customer opted out; "
                "only they can opt back in, by texting START",
            )
    new_rows = [row for row in new_rows if row.phone not in forgotten]
    if new_rows:
        session.execute(
            insert(Contact),
            [
                {
                    "phone": row.phone,
                    "name": row.name,
                    "consent": row.consent or "never_subscribed",
                    "consent_changed_at": at if _grants(row) else None,
                    "timezone": row.timezone,
                    "created_at": at,
                }
                for row in new_rows
            ],
        )
        outcome.created += len(new_rows)
    changes: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in batch:
        contact = existing.get(row.phone)
        if contact is None:
            continue
        values = _updates(row, contact)
        consent = row.consent
        if consent and consent != contact.consent:
            if consent == "subscribed" and contact.id in opted_out:
                outcome.refuse(
                    row.line,
                    f"not re-subscribed: the customer opted out ({opted_out[contact.id]}); "
                    "only they can opt back in, by texting START",
                )
                consent = None
            else:
                values.update(consent=consent, consent_changed_at=at)
                changes.append(_change(contact.id, consent, contact.consent, row, at, cause))
        if values:
            updates.append({"id": contact.id, **values})
        else:
            outcome.unchanged += 1
    if updates:
        session.execute(update(Contact), updates)
        outcome.updated += len(updates)
    if new_rows:
        created = session.exec(
            select(Contact.id, Contact.phone).where(
                col(Contact.phone).in_([r.phone for r in new_rows if _grants(r)])
            )
        ).all()
        by_phone = {phone: cid for cid, phone in created}
        for row in new_rows:
            if _grants(row):
                changes.append(
                    _change(
                        by_phone[row.phone], row.consent or "", "never_subscribed", row, at, cause
                    )
                )
    if changes:
        session.execute(insert(ConsentChange), changes)
        _refresh_headers(session, [c["contact_id"] for c in changes], at)


def _grants(row: Row) -> bool:
    return bool(row.consent) and row.consent != "never_subscribed"


def _updates(row: Row, contact: Contact) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if row.name is not None and row.name != contact.name:
        values["name"] = row.name
    if row.timezone is not None and row.timezone != contact.timezone:
        values["timezone"] = row.timezone
    return values


def _change(
    contact_id: int | None, consent: str, previous: str, row: Row, at: datetime, cause: str
) -> dict[str, Any]:
    return {
        "contact_id": contact_id,
        "consent": consent,
        "previous": previous,
        "source": "import",
        "cause": f"{cause} line {row.line}"[:200],
        "at": at,
    }


def _customer_opt_outs(session: Session, contact_ids: list[int]) -> dict[int, str]:
    """Contacts whose latest consent change is an opt-out by the customer, and how."""
    if not contact_ids:
        return {}
    query = (
        select(ConsentChange)
        .where(col(ConsentChange.contact_id).in_(contact_ids))
        .order_by(col(ConsentChange.id))
    )
    latest: dict[int, ConsentChange] = {}
    for change in session.exec(query):
        latest[change.contact_id] = change
    return {
        cid: f"{change.source} {change.detail or ''}".strip()
        for cid, change in latest.items()
        if change.consent == "unsubscribed" and change.source in _CUSTOMER_OPT_OUTS
    }


def _refresh_headers(session: Session, contact_ids: list[int], at: datetime) -> None:
    """Threads of contacts whose consent an import changed get their header redrawn."""
    query = select(Conversation).where(
        col(Conversation.contact_id).in_(contact_ids), col(Conversation.parent_ts).is_not(None)
    )
    jobs = [
        {
            "kind": "update_card",
            "lane": "slack",
            "contact_id": c.contact_id,
            "conversation_id": c.id,
            "channel": c.channel,
            "state": "pending",
            "attempts": 0,
            "dispatch_time": at,
            "created_at": at,
        }
        for c in session.exec(query)
    ]
    if jobs:
        session.execute(insert(DeliveryJob), jobs)


def all_contacts(engine: Engine) -> Iterator[tuple[str, str | None, str, str | None]]:
    """Every contact as (phone, name, consent, timezone), oldest first, streamed."""
    with Session(engine) as session:
        query = select(Contact.phone, Contact.name, Contact.consent, Contact.timezone).order_by(
            col(Contact.id)
        )
        yield from session.exec(query.execution_options(yield_per=BATCH))
