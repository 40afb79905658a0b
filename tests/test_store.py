"""The store: migrations match the models, and the queue keeps order per contact."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, select

from bridge.pacing import PaceBoard
from store import contacts, jobs, migrate, sqlite_gate
from store.engine import make_engine
from store.models import Contact, DeliveryJob
from tests.conftest import FakeClock


def test_migrations_build_exactly_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    assert not migrate.pending(engine)


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_sqlite_writers_in_one_process_take_turns_and_leave_the_gate_free(
    tmp_path: Path, clock: FakeClock
) -> None:
    """Threads writing at once all get their turn; a transaction that ends either way (commit,
    rollback, a closed session) gives the writer lock back."""
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    migrate.upgrade(engine)

    def writer(n: int) -> None:
        for k in range(25):
            with Session(engine) as session:
                session.add(Contact(phone=f"+1415555{n}{k:03d}", created_at=clock.now()))
                session.flush()
                if k % 5 == 4:
                    session.rollback()  # this one is given up
                else:
                    session.commit()
        with Session(engine) as session:  # closed mid-transaction
            session.add(Contact(phone=f"+1415556{n}000", created_at=clock.now()))
            session.flush()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with Session(engine) as session:
        assert len(session.exec(select(Contact)).all()) == 4 * 20
    gate = sqlite_gate.gate_of(engine)
    assert gate.acquire(blocking=False)
    gate.release()
    engine.dispose()


def _contact(session: Session, phone: str, clock: FakeClock) -> int:
    contact = contacts.get_or_create_contact(session, phone=phone, at=clock.now())
    session.commit()
    assert contact.id is not None
    return contact.id


def test_jobs_run_in_order_per_contact_and_in_parallel_across(
    engine: Engine, clock: FakeClock
) -> None:
    lease = timedelta(seconds=60)
    with Session(engine) as session:
        alice = _contact(session, "+14155550100", clock)
        bob = _contact(session, "+14155550101", clock)
        for contact_id in (alice, alice, bob):
            jobs.enqueue(session, kind="k", contact_id=contact_id, channel="C1", at=clock.now())
        session.commit()
        first = jobs.claim_next(session, now=clock.now(), worker="w", lease=lease)
        assert first is not None and first.contact_id == alice
        # Alice's second job waits for her first; Bob's does not.
        second = jobs.claim_next(session, now=clock.now(), worker="w", lease=lease)
        assert second is not None and second.contact_id == bob
        assert jobs.claim_next(session, now=clock.now(), worker="w", lease=lease) is None
        jobs.complete(session, job=first, now=clock.now())
        session.commit()
        third = jobs.claim_next(session, now=clock.now(), worker="w", lease=lease)
        assert third is not None and third.contact_id == alice and third.id != first.id


def test_a_retried_job_blocks_its_contact_until_due(engine: Engine, clock: FakeClock) -> None:
    lease = timedelta(seconds=60)
    with Session(engine) as session:
        alice = _contact(session, "+14155550100", clock)
        for _ in range(2):
            jobs.enqueue(session, kind="k", contact_id=alice, channel="C1", at=clock.now())
        session.commit()
        job = jobs.claim_next(session, now=clock.now(), worker="w", lease=lease)
        assert job is not None
        jobs.retry(session, job=job, at=clock.now() + timedelta(seconds=30), error="boom")
        assert jobs.claim_next(session, now=clock.now(), worker="w", lease=lease) is None
        clock.advance(31)
        again = jobs.claim_next(session, now=clock.now(), worker="w", lease=lease)
        assert again is not None and again.id == job.id and again.attempts == 1


def test_an_expired_lease_is_claimed_again(engine: Engine, clock: FakeClock) -> None:
    lease = timedelta(seconds=60)
    with Session(engine) as session:
        alice = _contact(session, "+14155550100", clock)
        jobs.enqueue(session, kind="k", contact_id=alice, channel="C1", at=clock.now())
        session.commit()
        assert jobs.claim_next(session, now=clock.now(), worker="a", lease=lease) is not None
        assert jobs.claim_next(session, now=clock.now(), worker="b", lease=lease) is None
        clock.advance(61)
        taken = jobs.claim_next(session, now=clock.now(), worker="b", lease=lease)
        assert taken is not None and taken.locked_by == "b"


def test_a_job_finished_by_another_process_after_the_select_is_not_claimed(
    engine: Engine, clock: FakeClock
) -> None:
    """Between a claim's SELECT and its UPDATE, another process takes the job, does it and
    finishes it (which clears its lease): the late claim must not run it a second time."""
    lease = timedelta(seconds=60)
    with Session(engine) as session:
        alice = _contact(session, "+14155550100", clock)
        jobs.enqueue(session, kind="k", contact_id=alice, channel="C1", at=clock.now())
        session.commit()

    def the_other_process_finishes_it(
        conn: object, cursor: object, statement: str, *_: object
    ) -> None:
        if statement.lstrip().upper().startswith("UPDATE DELIVERY_JOB") and not done:
            done.append(True)
            with Session(engine) as other:
                taken = jobs.claim_next(other, now=clock.now(), worker="other", lease=lease)
                assert taken is not None
                jobs.complete(other, job=taken, now=clock.now())
                other.commit()

    done: list[bool] = []
    event.listen(engine, "before_cursor_execute", the_other_process_finishes_it)
    try:
        with Session(engine) as session:
            late = jobs.claim_next(session, now=clock.now(), worker="late", lease=lease)
    finally:
        event.remove(engine, "before_cursor_execute", the_other_process_finishes_it)
    assert done and late is None


def test_paused_channels_are_skipped(engine: Engine, clock: FakeClock) -> None:
    lease = timedelta(seconds=60)
    with Session(engine) as session:
        alice = _contact(session, "+14155550100", clock)
        bob = _contact(session, "+14155550101", clock)
        jobs.enqueue(session, kind="k", contact_id=alice, channel="C1", at=clock.now())
        jobs.enqueue(session, kind="k", contact_id=bob, channel="C2", at=clock.now())
        session.commit()
        # Paused as a 429's Retry-After pauses it: in the budget every process shares.
        board = PaceBoard(engine)
        board.pause("C1", 60)
        job = jobs.claim_next(
            session, now=clock.now(), worker="w", lease=lease, pace_now=board.now()
        )
        assert job is not None and job.channel == "C2"


def test_consent_changes_are_kept_with_source_and_time(engine: Engine, clock: FakeClock) -> None:
    with Session(engine) as session:
        contact = contacts.get_or_create_contact(session, phone="+14155550100", at=clock.now())
        session.flush()
        assert contacts.change_consent(
            session, contact=contact, consent="subscribed", source="texted START", at=clock.now()
        )
        assert not contacts.change_consent(
            session, contact=contact, consent="subscribed", source="texted YES", at=clock.now()
        )
        session.commit()
        assert contact.id is not None
        history = contacts.consent_history(session, contact_id=contact.id)
        assert [(c.previous, c.consent, c.source) for c in history] == [
            ("never_subscribed", "subscribed", "texted START")
        ]
        assert history[0].at == clock.now()
        assert session.get(Contact, contact.id) is not None


@pytest.mark.parametrize(
    "statement",
    ["UPDATE consent_change SET consent = 'subscribed'", "DELETE FROM consent_change"],
)
def test_the_consent_ledger_is_append_only(
    engine: Engine, clock: FakeClock, statement: str
) -> None:
    with Session(engine) as session:
        contact = contacts.get_or_create_contact(session, phone="+14155550100", at=clock.now())
        session.flush()
        contacts.change_consent(
            session, contact=contact, consent="unsubscribed", source="keyword", at=clock.now()
        )
        session.commit()
        with pytest.raises(DBAPIError, match="append-only"):
            session.execute(text(statement))
        session.rollback()
        assert [
            c.consent for c in contacts.consent_history(session, contact_id=contact.id or 0)
        ] == ["unsubscribed"]


def test_leases_of_dead_or_earlier_processes_on_this_host_are_freed(
    engine: Engine, clock: FakeClock
) -> None:
    lease = timedelta(seconds=600)
    with Session(engine) as session:
        ids = [_contact(session, f"+1415555010{n}", clock) for n in range(4)]
        for contact_id in ids:
            jobs.enqueue(session, kind="k", contact_id=contact_id, channel="C1", at=clock.now())
        session.commit()
        for worker in ("here:100:a", "here:200:b", "here:300:c", "there:100:d"):
            assert jobs.claim_next(session, now=clock.now(), worker=worker, lease=lease)
        # pid 100 is dead, 200 is alive, 300 is our own pid from an earlier run.
        freed = jobs.release_locks_of_dead_workers(
            session, host="here", pid=300, alive=lambda pid: pid == 200
        )
        assert freed == 2
        holders = {j.locked_by for j in session.exec(select(DeliveryJob))}
        assert holders == {None, "here:200:b", "there:100:d"}
