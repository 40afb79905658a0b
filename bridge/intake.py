"""The intake processor: applies stored webhooks after their ack, once each, in order.

A row is applied and deleted in one transaction when the handler commits once (the usual
case); a handler that rolls back part-way commits its own work and the row goes in a second
commit. On a SQLite file the rows live in a file of their own (`store.intake.engine_for`), and
a row is deleted there once its work is committed. Either way, re-applying a row after a crash
changes nothing twice, because every handler is idempotent on the webhook's own identity
(Twilio's MessageSid, Slack's message ts).

Acks go first: in a `serve` process the processor waits while webhooks are being answered,
before it claims a row and before each SQL statement it runs while applying one
(`bridge.acks_first`), so an ack does not share the GIL with a text's domain work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlmodel import Session

from bridge.acks_first import AcksFirst
from bridge.pacing import backoff_seconds
from bridge.ports import Clock
from bridge.unavailable import DATABASE_DOWN
from store import intake
from store.engine import write_gate
from store.intake import Claimed

log = logging.getLogger(__name__)

# Unexpected errors this many times in a row: the row is set aside (and logged).
PARK_AFTER_FAILURES = 8
# With several processes, a poll catches rows another process stored.
_IDLE_POLL_SECONDS = 2.0
_AFTER_WAKE_SECONDS = 0.002
# How long the processor lets acks go first before it takes a row (so a flood of webhooks
# cannot starve it for ever).
_ACKS_FIRST_SECONDS = 0.05


# Applies one stored webhook of its source (stores the text, the reply...); may commit.
IntakeHandler = Callable[[Session, Claimed], None]


class IntakeProcessor:
    """A background thread that applies the intake backlog, woken when a row is stored."""

    def __init__(
        self,
        *,
        engine: Engine,
        handlers: Mapping[str, IntakeHandler],
        clock: Clock,
        on_applied: Callable[[], None],
        acks: AcksFirst | None = None,
    ) -> None:
        self._engine = engine
        self._rows = intake.engine_for(engine)
        self._handlers = dict(handlers)
        self._clock = clock
        self._on_applied = on_applied
        self._acks = acks
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="intake", daemon=True)

    def start(self) -> None:
        """Start applying, beginning with what an earlier run left unapplied."""
        if self._acks is not None:
            self._acks.include(self._thread)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current row and end the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wake(self) -> None:
        """A row was stored: look now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            # Woken by a stored webhook: its ack is still being written to the socket, which
            # needs the GIL this thread would take.
            time.sleep(_AFTER_WAKE_SECONDS)
            try:
                if self.apply_one():
                    # The GIL to the event loop between rows, so acks never queue behind a
                    # backlog being worked off.
                    time.sleep(0)
                    continue
                timeout = self._idle_timeout()
            except DATABASE_DOWN as down:
                log.warning("intake paused: database unavailable (%s)", type(down).__name__)
                timeout = 1.0
            except Exception:
                log.exception("intake loop failed; retrying shortly")
                timeout = 1.0
            self._wake.wait(timeout)

    def apply_one(self) -> bool:
        """Apply the next row that may go; False when none may."""
        if self._acks is not None:  # webhooks waiting to be stored (and acked) go first
            self._acks.wait(_ACKS_FIRST_SECONDS)
        if self._rows is not self._engine:
            return self._apply_apart()
        with write_gate(self._engine), Session(self._engine) as session:
            row = intake.claim_next(session, now=self._clock.now())
            if row is None:
                return False
            try:
                # Deleted first, so a handler's own commit takes the row with its work.
                intake.finish(session, row_id=row.id)
                self._handle(session, row)
                intake.finish(session, row_id=row.id)
                session.commit()
            except DATABASE_DOWN:
                session.rollback()
                raise
            except Exception as exc:
                session.rollback()
                self._failed(session, row, exc)
                return True
        self._on_applied()
        return True

    def _apply_apart(self) -> bool:
        # One row at a time per intake file (SQLite has no row locks to claim with): claimed,
        # applied and committed, then deleted.
        with _apply_lock(self._rows):
            with Session(self._rows) as rows:
                row = intake.claim_next(rows, now=self._clock.now())
            if row is None:
                return False
            # SQLite's writer lock is taken at the first write (store/sqlite_gate.py), so
            # the delivery thread is not kept waiting while this one reads.
            with Session(self._engine) as session:
                try:
                    self._handle(session, row)
                    session.commit()
                except DATABASE_DOWN:
                    session.rollback()
                    raise
                except Exception as exc:
                    session.rollback()
                    failure: Exception | None = exc
                else:
                    failure = None
            with write_gate(self._rows), Session(self._rows) as rows:
                if failure is None:
                    intake.finish(rows, row_id=row.id)
                    rows.commit()
                else:
                    self._failed(rows, row, failure)
                    return True
        self._on_applied()
        return True

    def _handle(self, session: Session, row: Claimed) -> None:
        handler = self._handlers.get(row.source)
        if handler is None:
            log.error("intake row %s from %r: no handler; dropped", row.id, row.source)
        else:
            handler(session, row)

    def _failed(self, session: Session, row: Claimed, exc: Exception) -> None:
        # The error's text may quote the webhook (SQL parameters: numbers, bodies): the class
        # is logged, the traceback only at DEBUG.
        reason = type(exc).__name__
        log.error("intake row %s (%s) failed: %s", row.id, row.source, reason)
        log.debug("intake row %s failed", row.id, exc_info=exc)
        attempts = row.attempts + 1
        now = self._clock.now()
        if attempts >= PARK_AFTER_FAILURES:
            log.error("intake row %s (%s) failed %d times; parked", row.id, row.source, attempts)
            intake.park(session, row_id=row.id, attempts=attempts, now=now, error=reason)
        else:
            at = now + timedelta(seconds=backoff_seconds(row.attempts))
            intake.retry(session, row_id=row.id, attempts=attempts, at=at, error=reason)
        session.commit()

    def _idle_timeout(self) -> float:
        with Session(self._rows) as session:
            due = intake.next_due(session)
        waits = [_IDLE_POLL_SECONDS]
        if due is not None:
            waits.append((due - self._clock.now()).total_seconds())
        return max(min(waits), 0.05)


_APPLY_LOCKS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()
_APPLY_LOCKS_LOCK = threading.Lock()


def _apply_lock(rows: Engine) -> threading.Lock:
    with _APPLY_LOCKS_LOCK:
        return _APPLY_LOCKS.setdefault(rows, threading.Lock())


def applied_at(row: Claimed) -> datetime:
    """The time the domain records for a stored webhook: when it arrived, not when applied."""
    return row.received_at
