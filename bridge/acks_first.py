"""Webhook acks before background work, in a `serve` process (issue 9, G2).

Applying a text or delivering a post is milliseconds of Python between SQL statements; an ack
that arrives meanwhile shares the GIL with it. So the background threads named here wait,
before each statement they run, while a webhook is being answered (for a bounded time, so a
flood of webhooks cannot starve them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine, event

from store import intake, sqlite_gate
from store.engine import is_sqlite

# How long a statement lets acks go first before it runs anyway.
STATEMENT_WAIT_SECONDS = 0.02


class AcksFirst:
    """Makes the threads `include`d wait for acks before each statement on `engine`."""

    def __init__(self, engine: Engine, wait_idle: Callable[[float], None]) -> None:
        self._engine = engine
        self._wait_idle = wait_idle
        self._threads: set[threading.Thread] = set()
        # One SQLite file for stored webhooks and the domain: a background transaction may
        # hold the write lock the ack waits for, and must not wait for the ack in turn.
        self._shared_lock = intake.engine_for(engine) is engine and is_sqlite(engine)

    def include(self, thread: threading.Thread) -> None:
        """`thread` lets acks go first from now on."""
        self._threads.add(thread)

    def wait(self, timeout: float) -> None:
        """Wait (at most `timeout` s) while a webhook is being answered."""
        self._wait_idle(timeout)

    def start(self) -> None:
        """Begin holding the included threads' statements back while acks are in flight."""
        if not self._shared_lock:
            event.listen(self._engine, "before_cursor_execute", self._before_statement)

    def stop(self) -> None:
        """Stop holding statements back."""
        if event.contains(self._engine, "before_cursor_execute", self._before_statement):
            event.remove(self._engine, "before_cursor_execute", self._before_statement)

    def _before_statement(self, conn: Connection, *_args: Any) -> None:
        # Once the transaction has written it holds SQLite's writer lock, which the other
        # background thread's next write waits for: then it goes on without waiting.
        if threading.current_thread() in self._threads and not sqlite_gate.holds(conn):
            self._wait_idle(STATEMENT_WAIT_SECONDS)
