"""Jobs held for quiet hours: they let later jobs pass until due, then head their lane again."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bridge.timers import Timers
from store import contacts, jobs
from tests.conftest import FakeClock

LEASE = timedelta(seconds=60)


def test_a_held_job_lets_later_jobs_pass_until_it_is_due(engine: Engine, clock: FakeClock) -> None:
    with Session(engine) as session:
        alice = contacts.get_or_create_contact(session, phone="+14155550100", at=clock.now()).id
        assert alice is not None
        for kind in ("reply", "answer", "later-reply"):
            jobs.enqueue(session, kind=kind, contact_id=alice, channel="sms", at=clock.now())
        session.commit()
        held = jobs.claim_next(session, now=clock.now(), worker="w", lease=LEASE)
        assert held is not None and held.kind == "reply"
        jobs.postpone(session, job=held, until=clock.now() + timedelta(hours=3))
        session.commit()
        assert jobs.next_held_time(session) == clock.now() + timedelta(hours=3)

        answer = jobs.claim_next(session, now=clock.now(), worker="w", lease=LEASE)
        assert answer is not None and answer.kind == "answer"
        jobs.complete(session, job=answer, now=clock.now())
        session.commit()

        clock.advance(3 * 3600)
        # Due now: it heads the lane again, so the later reply still goes after it.
        again = jobs.claim_next(session, now=clock.now(), worker="w2", lease=LEASE)
        assert again is not None and again.id == held.id
        assert jobs.claim_next(session, now=clock.now(), worker="w3", lease=LEASE) is None


def test_a_held_job_that_fails_keeps_its_place_while_it_backs_off(
    engine: Engine, clock: FakeClock
) -> None:
    with Session(engine) as session:
        alice = contacts.get_or_create_contact(session, phone="+14155550100", at=clock.now()).id
        assert alice is not None
        for kind in ("reply", "later-reply"):
            jobs.enqueue(session, kind=kind, contact_id=alice, channel="sms", at=clock.now())
        session.commit()
        held = jobs.claim_next(session, now=clock.now(), worker="w", lease=LEASE)
        assert held is not None
        jobs.postpone(session, job=held, until=clock.now())
        session.commit()
        again = jobs.claim_next(session, now=clock.now(), worker="w", lease=LEASE)
        assert again is not None and again.id == held.id
        jobs.retry(session, job=again, at=clock.now() + timedelta(seconds=30), error="Twilio 503")
        assert jobs.claim_next(session, now=clock.now(), worker="w", lease=LEASE) is None


def test_timers_wake_at_the_time_asked_and_at_once_when_it_is_past() -> None:
    rang = threading.Event()
    timers = Timers(rang.set)
    timers.start(None)
    try:
        soon = datetime.now(UTC) + timedelta(seconds=0.3)
        timers.at(soon)
        timers.at(soon)  # asked twice: armed once
        assert timers.pending() == [soon]
        assert rang.wait(5)
        rang.clear()
        timers.at(datetime(2026, 1, 1, tzinfo=UTC))
        assert rang.wait(5)
    finally:
        timers.stop()
