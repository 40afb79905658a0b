"""The engine factory: SQLite in WAL mode by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from store import sqlite_gate


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    sqlite_gate.install(engine)
    return engine


def is_sqlite(engine: Engine) -> bool:
    """Whether the engine is SQLite, which only one process may serve."""
    return engine.dialect.name == "sqlite"


def write_gate(engine: Engine) -> contextlib.AbstractContextManager[object]:
    """Holds this process's SQLite writer lock across a whole unit of work (store/sqlite_gate.py
    takes it per transaction anyway); a no-op on other databases."""
    if not is_sqlite(engine):
        return contextlib.nullcontext()
    return sqlite_gate.gate_of(engine)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
