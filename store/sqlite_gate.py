"""One writer at a time within the process on SQLite, queued on a lock instead of SQLite's
busy handler.

SQLite lets one connection write at a time; a second writer waits in its busy handler, which
sleeps in steps of up to 100 ms. Under load (webhooks stored, texts applied, posts recorded,
all in one process) those sleeps made the delivery thread miss its Slack slot and the acks'
slowest writes slow. So a connection takes this lock when it first writes in a transaction
and gives it back when the transaction ends: writers queue and wake the moment it is free.
Reads need no lock (WAL).
"""

from __future__ import annotations

import threading
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import OperationalError

# A writer that cannot get the lock in this long gets the error SQLite's own busy timeout
# would have raised, rather than hanging.
WAIT_SECONDS = 30.0
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")
_HOLDS = "smsbridge_write_gate"
_GATES: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()


def gate_of(engine: Engine) -> threading.RLock:
    """The engine's writer lock (reentrant: a thread holding it may write through it)."""
    gate = _GATES.get(engine)
    if gate is None:
        gate = _GATES.setdefault(engine, threading.RLock())
    return gate


def holds(conn: Connection) -> bool:
    """Whether the connection is in a transaction that has written (and holds the lock)."""
    return bool(conn.info.get(_HOLDS))


def install(engine: Engine) -> None:
    """Make every transaction on `engine` that writes hold the engine's writer lock."""
    gate = gate_of(engine)

    def before_write(
        conn: Connection, _cursor: Any, statement: str, *_args: Any, **_kwargs: Any
    ) -> None:
        if conn.info.get(_HOLDS) or not statement.lstrip()[:7].upper().startswith(_WRITES):
            return
        if not gate.acquire(timeout=WAIT_SECONDS):
            raise OperationalError(statement[:40], None, Exception("database is locked"))
        conn.info[_HOLDS] = True

    def transaction_ended(conn: Connection) -> None:
        if conn.info.pop(_HOLDS, False):
            gate.release()

    event.listen(engine, "before_cursor_execute", before_write)
    event.listen(engine, "commit", transaction_ended)
    event.listen(engine, "rollback", transaction_ended)
