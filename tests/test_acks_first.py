"""Background threads let webhook acks go first (issue 9, G2): before each SQL statement they
run, the intake and the delivery worker wait while a webhook is being answered."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import Engine, text

from bridge.acks_first import AcksFirst
from bridge.intake_writer import IntakeWriter
from store.engine import make_engine


def _engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path}/smsbridge.db")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (n INTEGER)"))
    return engine


def _statement_time_while_answering(
    engine: Engine, *, include: bool, write_first: bool
) -> tuple[float, float]:
    """(when the background thread's statement ran, when the ack ended)."""
    writer = IntakeWriter(engine, on_stored=lambda: None)
    acks = AcksFirst(engine, writer.wait_idle)
    acks.start()
    ready, ran = threading.Event(), []

    def background() -> None:
        with engine.begin() as connection:
            if write_first:
                connection.execute(text("INSERT INTO t VALUES (1)"))
            ready.set()
            connection.execute(text("SELECT count(*) FROM t"))
            ran.append(time.monotonic())

    thread = threading.Thread(target=background)
    if include:
        acks.include(thread)
    try:
        with writer.answering():
            thread.start()
            assert ready.wait(5)
            time.sleep(0.01)
            answered = time.monotonic()
        thread.join(5)
    finally:
        acks.stop()
        engine.dispose()
    return ran[0], answered


def test_a_background_statement_waits_for_the_ack_in_flight(tmp_path: Path) -> None:
    ran, answered = _statement_time_while_answering(
        _engine(tmp_path), include=True, write_first=False
    )
    assert ran >= answered


def test_threads_not_included_do_not_wait(tmp_path: Path) -> None:
    ran, answered = _statement_time_while_answering(
        _engine(tmp_path), include=False, write_first=False
    )
    assert ran < answered


def test_a_transaction_that_holds_the_writer_lock_goes_on(tmp_path: Path) -> None:
    # Another background thread's write waits for that lock: holding it while waiting for
    # acks would hold that thread up too.
    ran, answered = _statement_time_while_answering(
        _engine(tmp_path), include=True, write_first=True
    )
    assert ran < answered
