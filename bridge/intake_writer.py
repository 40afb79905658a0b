"""Storing verified webhooks before their ack, many requests to one commit.

One thread writes: the requests that arrive while a commit runs go together in the next one
(group commit). A webhook thread per request would meet the others on SQLite's single write
lock, and the GIL, in a convoy; here each request costs one queue put and one wake-up.

On a SQLite file, a request that finds no other webhook being stored commits its row itself,
in the event loop: the row's insert is a fraction of a millisecond, and the hand-over to the
writer thread and back costs two thread switches, each waiting for the GIL while the
background threads (applying texts, delivering) hold it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Iterator

from sqlalchemy import Engine

from store import intake, sqlite_gate
from store.engine import is_sqlite, write_gate
from store.intake import IntakeRow

log = logging.getLogger(__name__)

# Enough to drain 50 concurrent webhooks in one commit, small enough to keep a commit short.
_MAX_BATCH = 200

_Waiter = tuple[IntakeRow, asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class IntakeWriter:
    """Stores rows for the webhook endpoints; `on_stored` wakes the intake processor."""

    def __init__(self, engine: Engine, on_stored: Callable[[], None]) -> None:
        # On a SQLite file, the intake file: no domain transaction holds its write lock.
        self._engine = intake.engine_for(engine)
        self._on_stored = on_stored
        self._queue: queue.SimpleQueue[_Waiter | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        # Requests being answered and rows queued or being committed: while any, the intake
        # processor waits (before each row and each statement), so acks have the GIL to
        # themselves.
        self._pending = 0
        self._count_lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        # Rows handed to the writer thread and not yet committed (read without a lock: a
        # stale count only sends a row the longer way).
        self._queued = 0
        self._gate = sqlite_gate.gate_of(self._engine) if is_sqlite(self._engine) else None

    async def store(self, row: IntakeRow) -> None:
        """Return once `row` is committed (or was stored before); raise what the commit raised."""
        if self._stored_at_once(row):
            return
        self._ensure_started()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._busy(+1)
        with self._count_lock:
            self._queued += 1
        self._queue.put((row, loop, done))
        await done

    def _stored_at_once(self, row: IntakeRow) -> bool:
        """Commit `row` in the caller's thread when nothing else is being stored; whether it
        was."""
        if self._gate is None or self._queued or not self._gate.acquire(blocking=False):
            return False
        try:
            with self._engine.begin() as connection:
                intake.add_all(connection, [row])
        finally:
            self._gate.release()
        self._on_stored()
        return True

    @contextlib.contextmanager
    def answering(self) -> Iterator[None]:
        """Around a webhook's whole handling (signature, parsing, storing): acks go first."""
        self._busy(+1)
        try:
            yield
        finally:
            self._busy(-1)

    def _busy(self, change: int) -> None:
        with self._count_lock:
            self._pending += change
            if self._pending == 0:
                self._idle.set()
            else:
                self._idle.clear()

    def wait_idle(self, timeout: float) -> None:
        """Wait (at most `timeout` s) until no webhook waits to be stored: acks go first."""
        self._idle.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        """Commit what was queued, then end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < _MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)
            if stopping:
                return

    def _write(self, batch: list[_Waiter]) -> None:
        error: BaseException | None = None
        try:
            with write_gate(self._engine), self._engine.begin() as connection:
                intake.add_all(connection, [row for row, _loop, _done in batch])
        except Exception as exc:  # every waiter gets it: each answers 503, or as it must
            error = exc
        with self._count_lock:
            self._queued -= len(batch)
        self._busy(-len(batch))
        for _row, loop, done in batch:
            # RuntimeError: that request's loop is gone (shutdown), nobody waits.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, done, error)
        if error is None:
            self._on_stored()


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # the request was cancelled (client gone)
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
