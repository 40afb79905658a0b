"""The webhook intake: verified webhooks stored raw before the ack, applied later in order.

A row is claimed only when no earlier live row shares its order key, so a sender's texts (or a
thread's replies, edits and deletes) are applied in arrival order, by one process at a time:
on PostgreSQL the claim holds a row lock (FOR UPDATE SKIP LOCKED) until the transaction that
applies and deletes the row commits; SQLite is served by one process only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Select, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from store.models import WebhookIntake
from store.types import UtcDateTime

# Sources of stored webhooks; a text's order key is its sender's: `twilio:+15551234567`.
TWILIO_SOURCE = "twilio"


def text_order_key(sender: str) -> str:
    """The order key of texts from `sender`: they are applied one at a time, in order."""
    return f"{TWILIO_SOURCE}:{sender}"


_TABLE = WebhookIntake.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class IntakeRow:
    """One verified webhook as it is stored before the ack."""

    key: str
    source: str
    order_key: str
    payload: str
    received_at: datetime

    def values(self) -> dict[str, object]:
        """Column values for an insert."""
        return {
            "key": self.key[:140],
            "source": self.source,
            "order_key": self.order_key[:200],
            "payload": self.payload,
            "received_at": self.received_at,
            "attempts": 0,
        }


@dataclass(frozen=True)
class Claimed:
    """A row claimed for applying."""

    id: int
    source: str
    payload: str
    received_at: datetime
    attempts: int


def add_all(connection: Connection, rows: Sequence[IntakeRow]) -> None:
    """Store rows in the caller's transaction; a key already stored is left alone (a retry)."""
    values = [row.values() for row in rows]
    dialect = connection.dialect.name
    if dialect == "sqlite":
        connection.execute(sqlite.insert(_TABLE).on_conflict_do_nothing(), values)
    elif dialect == "postgresql":
        # Imported here: the dialect weighs 2 MiB in a process on SQLite (issue 9, G8).
        from sqlalchemy.dialects import postgresql

        connection.execute(postgresql.insert(_TABLE).on_conflict_do_nothing(), values)
    else:  # other backends: one savepoint per row
        for value in values:
            try:
                with connection.begin_nested():
                    connection.execute(insert(_TABLE), value)
            except IntegrityError:
                pass


def _claim_statement() -> Select[int | None, str, str, datetime, int]:
    row = aliased(WebhookIntake)
    earlier = aliased(WebhookIntake)
    blocked = (
        select(col(earlier.id))
        .where(col(earlier.order_key) == col(row.order_key))
        .where(col(earlier.id) < col(row.id))
        .where(col(earlier.parked_at).is_(None))
        .exists()
    )
    due = bindparam("now", type_=UtcDateTime())
    return (
        select(
            col(row.id), col(row.source), col(row.payload), col(row.received_at), col(row.attempts)
        )
        .where(col(row.parked_at).is_(None))
        .where(or_(col(row.next_attempt_at).is_(None), col(row.next_attempt_at) <= due))
        .where(~blocked)
        .order_by(col(row.id))
        .limit(1)
        .with_for_update(skip_locked=True, of=row)
    )


# Built once: the intake claims a row per webhook, and building the query costs more than
# running it.
_CLAIM = _claim_statement()


def claim_next(session: Session, *, now: datetime) -> Claimed | None:
    """The oldest due row that heads its order key, locked until the session commits."""
    found = session.execute(_CLAIM, {"now": now}).first()
    if found is None:
        return None
    return Claimed(*found)


def finish(session: Session, *, row_id: int) -> None:
    """The row has been applied: gone, in the caller's transaction (a no-op if already)."""
    session.execute(delete(WebhookIntake).where(col(WebhookIntake.id) == row_id))


def retry(session: Session, *, row_id: int, attempts: int, at: datetime, error: str) -> None:
    """Applying failed: try again at `at`; later rows with the same order key wait."""
    session.execute(
        update(WebhookIntake)
        .where(col(WebhookIntake.id) == row_id)
        .values(attempts=attempts, next_attempt_at=at, error=error[:300])
    )


def park(session: Session, *, row_id: int, attempts: int, now: datetime, error: str) -> None:
    """Set aside a row that fails every time, so the rows behind it are not held for ever."""
    session.execute(
        update(WebhookIntake)
        .where(col(WebhookIntake.id) == row_id)
        .values(attempts=attempts, parked_at=now, error=error[:300])
    )


def backlog(session: Session) -> int:
    """How many rows wait to be applied."""
    query = (
        select(func.count())
        .select_from(WebhookIntake)
        .where(col(WebhookIntake.parked_at).is_(None))
    )
    return int(session.execute(query).scalar_one())


def next_due(session: Session) -> datetime | None:
    """When the earliest row waiting out a retry becomes due."""
    query = select(func.min(WebhookIntake.next_attempt_at)).where(
        col(WebhookIntake.parked_at).is_(None)
    )
    return session.execute(query).scalar_one_or_none()
