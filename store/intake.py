"""The webhook intake: verified webhooks stored raw before the ack, applied later in order.

A row is claimed only when no earlier live row shares its order key, so a sender's texts (or a
thread's replies, edits and deletes) are applied in arrival order, by one process at a time:
on PostgreSQL the claim holds a row lock (FOR UPDATE SKIP LOCKED) until the transaction that
applies and deletes the row commits; SQLite is served by one process only.

On a SQLite file the rows live in a file of their own next to the database (`engine_for`):
SQLite has one writer per file, and a webhook waiting to be stored (and acked) must not wait
for a text's domain transaction. There, a row is deleted after the transaction that applied it
commits; a crash in between applies it again, which changes nothing twice because every
handler is idempotent on the webhook's own id (MessageSid, Slack's message ts).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from weakref import WeakKeyDictionary

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    Select,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from store.engine import is_sqlite, make_engine, write_gate
from store.models import WebhookIntake
from store.types import UtcDateTime

# Sources of stored webhooks; a text's order key is its sender's: `twilio:+15551234567`.
TWILIO_SOURCE = "twilio"


def text_order_key(sender: str) -> str:
    """The order key of texts from `sender`: they are applied one at a time, in order."""
    return f"{TWILIO_SOURCE}:{sender}"


_TABLE = WebhookIntake.__table__  # type: ignore[attr-defined]
# The intake file's layout, in its `PRAGMA user_version`: the model's table as of 0008.
_LAYOUT = 1
_SIDE_ENGINES: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()
_SIDE_LOCK = threading.Lock()


def side_path(engine: Engine) -> Path | None:
    """The intake file of a SQLite file database (`smsbridge.db` -> `smsbridge-intake.db`);
    None where the rows stay in the database itself (PostgreSQL, SQLite in memory)."""
    database = engine.url.database
    if not is_sqlite(engine) or not database or database == ":memory:":
        return None
    if database.startswith("file:"):  # a URI filename: its options do not carry over
        return None
    return intake_file_of(Path(database))


def intake_file_of(database: Path) -> Path:
    """The intake file beside a SQLite database file."""
    return database.with_name(f"{database.stem}-intake{database.suffix or '.db'}")


def engine_for(engine: Engine) -> Engine:
    """The engine whose database holds the stored webhooks of `engine`'s database: the intake
    file's on a SQLite file (created on first use), else `engine` itself."""
    path = side_path(engine)
    if path is None:
        return engine
    with _SIDE_LOCK:
        side = _SIDE_ENGINES.get(engine)
        if side is None:
            side = make_engine(f"sqlite:///{path}")
            _create_layout(side)
            _SIDE_ENGINES[engine] = side
    return side


def is_separate(engine: Engine) -> bool:
    """Whether `engine`'s stored webhooks live in a database of their own."""
    return engine_for(engine) is not engine


def _create_layout(side: Engine) -> None:
    with write_gate(side), side.begin() as connection:
        version = int(connection.exec_driver_sql("PRAGMA user_version").scalar_one())
        if version > _LAYOUT:
            raise RuntimeError(
                f"{side.url.database} was written by a newer smsbridge (layout {version})"
            )
        _TABLE.create(connection, checkfirst=True)
        connection.exec_driver_sql(f"PRAGMA user_version = {_LAYOUT}")


def adopt_leftovers(engine: Engine) -> int:
    """Move rows an earlier version stored in the database itself into the intake file, in
    their order; how many. Run after migrating, before the intake starts."""
    side = engine_for(engine)
    if side is engine:
        return 0
    with engine.connect() as connection:
        rows = connection.execute(select(_TABLE).order_by(_TABLE.c.id)).mappings().all()
    if not rows:
        return 0
    moved = [{k: v for k, v in row.items() if k != "id"} for row in rows]
    with write_gate(side), side.begin() as connection:
        connection.execute(sqlite.insert(_TABLE).on_conflict_do_nothing(), moved)
    # Gone from the database only once the intake file has them: a crash in between leaves
    # a copy here, moved (and, if applied, re-applied harmlessly) at the next start.
    with write_gate(engine), engine.begin() as connection:
        connection.execute(delete(_TABLE).where(_TABLE.c.id.in_([row["id"] for row in rows])))
    return len(rows)


def delete_stored(session: Session, *conditions: ColumnElement[bool]) -> None:
    """Delete stored webhooks matching `conditions` (erasure, retention) wherever they live:
    in the session's transaction, or committed at once in the intake file."""
    statement = delete(WebhookIntake).where(*conditions)
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    side = engine_for(engine)
    if side is engine:
        session.execute(statement)
        return
    with write_gate(side), side.begin() as connection:
        connection.execute(statement)


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
        connection.execute(_ADD_SQLITE, values)
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


# Built once: it runs before every webhook's ack.
_ADD_SQLITE = sqlite.insert(_TABLE).on_conflict_do_nothing()


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
    session.execute(_FINISH, {"row_id": row_id})


_FINISH = delete(WebhookIntake).where(col(WebhookIntake.id) == bindparam("row_id"))


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
