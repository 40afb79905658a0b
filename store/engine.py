"""The engine factory: SQLite in WAL mode by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import contextlib
import threading
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

_WRITE_LOCKS: WeakKeyDictionary[Engine, threading.Lock] = WeakKeyDictionary()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine is SQLite, which only one process may serve."""
    return engine.dialect.name == "sqlite"


def write_gate(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """Serialises this process's writers on SQLite, which allows one writer at a time.

    Without it, concurrent webhook threads meet in SQLite's busy handler, which sleeps in
    steps of up to 100 ms and makes the slowest acknowledgements several times slower.
    """
    if not is_sqlite(engine):
        return contextlib.nullcontext()
    lock = _WRITE_LOCKS.get(engine)
    if lock is None:
        lock = _WRITE_LOCKS.setdefault(engine, threading.Lock())
    return lock


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
