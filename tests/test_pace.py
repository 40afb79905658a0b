"""Send budgets shared through the database: GCRA per key, pauses, and the claim that obeys them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bridge.pacing import Budget, LocalPacer, PaceBoard, SharedPacer, take_or_wait
from bridge.worker import DeliveryWorker, Dispatch
from store import jobs
from store.engine import make_engine
from store.models import Contact, Conversation, DeliveryJob, InboxEntry
from tests.conftest import FakeClock

LEASE = timedelta(seconds=60)


class WallClock:
    """Unix seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0  # exact in binary, with the quarter steps the tests take

    def __call__(self) -> float:
        return self.now


def test_a_budget_allows_its_burst_then_its_rate(engine: Engine) -> None:
    wall = WallClock()
    pacer = SharedPacer(engine, Budget(rate=2.0, burst=3), wallclock=wall)
    assert [pacer.take("C1") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert 0.49 < pacer.take("C1") <= 0.5
    wall.now += 0.5
    assert pacer.take("C1") == 0.0
    assert pacer.take("C1") > 0
    # Another channel has its own budget.
    assert pacer.take("C2") == 0.0


def test_two_processes_share_one_budget(engine: Engine) -> None:
    """Two processes (two engines on one database) together never exceed the budget."""
    wall = WallClock()
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        budget = Budget(rate=1.0, burst=2)
        a, b = (
            SharedPacer(engine, budget, wallclock=wall),
            SharedPacer(other, budget, wallclock=wall),
        )
        sent = 0
        for _ in range(40):  # 10 s of trying every 0.25 s, alternating processes
            for pacer in (a, b):
                sent += pacer.take("C1") == 0.0
            wall.now += 0.25
        # 2 at once, then one a second (t = 1 .. 9): 11 however many processes try.
        assert sent == 11
    finally:
        other.dispose()


def test_a_pause_holds_the_budget_on_every_process(engine: Engine) -> None:
    wall = WallClock()
    board = PaceBoard(engine, wallclock=wall)
    pacer = SharedPacer(engine, Budget(rate=10.0, burst=5), wallclock=wall)
    assert pacer.take("C1") == 0.0
    board.pause("C1", 30)
    assert 29.9 < pacer.take("C1") <= 30
    assert board.seconds_to_next_ready() == 30
    wall.now += 30
    assert pacer.take("C1") == 0.0
    # A shorter pause never cuts a longer one.
    board.pause("C1", 60)
    board.pause("C1", 5)
    assert pacer.take("C1") > 59


def test_short_waits_are_slept_through_long_ones_returned() -> None:
    wall = WallClock()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        wall.now += seconds

    fast = LocalPacer(Budget(rate=8.0, burst=1), wallclock=wall)
    assert take_or_wait(fast, "C1", sleep=sleep) == 0.0
    assert take_or_wait(fast, "C1", sleep=sleep) == 0.0
    assert slept == [0.125]
    slow = LocalPacer(Budget(rate=0.5, burst=1), wallclock=wall)
    assert take_or_wait(slow, "C1", sleep=sleep) == 0.0
    assert take_or_wait(slow, "C1", sleep=sleep) == 2.0
    assert slept == [0.125]


def test_claims_skip_channels_whose_budget_is_spent(engine: Engine, clock: FakeClock) -> None:
    wall = WallClock()
    pacer = SharedPacer(engine, Budget(rate=1.0, burst=1), wallclock=wall)
    with Session(engine) as session:
        alice, bob = _contact(session, "+14155550100"), _contact(session, "+14155550101")
        jobs.enqueue(session, kind="k", contact_id=alice, channel="C1", at=clock.now())
        jobs.enqueue(session, kind="k", contact_id=bob, channel="C2", at=clock.now())
        session.commit()
        assert pacer.take("C1") == 0.0
        job = jobs.claim_next(session, now=clock.now(), worker="w", lease=LEASE, pace_now=wall.now)
        assert job is not None and job.channel == "C2"
        assert (
            jobs.claim_next(session, now=clock.now(), worker="w", lease=LEASE, pace_now=wall.now)
            is None
        )
        wall.now += 1
        again = jobs.claim_next(
            session, now=clock.now(), worker="w", lease=LEASE, pace_now=wall.now
        )
        assert again is not None and again.channel == "C1"


def test_jobs_that_send_nothing_are_claimed_while_the_budget_is_spent(
    engine: Engine, clock: FakeClock
) -> None:
    """Deciding whether to answer costs no send: a burst of decisions must not hold a number's
    real sends (agents' replies) at the number's rate of one a second."""
    ran: list[tuple[str, int]] = []

    class Record:
        def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
            ran.append((job.kind, job.contact_id))

    # A budget of one send, refilled once in about 17 minutes: spent for the whole test.
    budget = SharedPacer(engine, Budget(rate=0.001, burst=1))
    worker = DeliveryWorker(
        engine=engine,
        runner=Dispatch({"send": Record(), "decide": Record()}),
        clock=clock,
        lane_pacers={jobs.SMS_LANE: budget},
        unpaced_kinds={"decide"},
    )
    with Session(engine) as session:
        people = [_contact(session, f"+1415555010{n}") for n in range(5)]
        kinds = ["send", "decide", "decide", "decide", "send"]
        for contact, kind in zip(people, kinds, strict=True):
            jobs.enqueue(
                session,
                kind=kind,
                contact_id=contact,
                channel="sms:+15550001111",
                lane=jobs.SMS_LANE,
                at=clock.now(),
            )
            clock.advance(1)
        session.commit()
    while worker._run_one():
        pass
    assert ran == list(zip(kinds[:4], people[:4], strict=True))
    with Session(engine) as session:
        assert jobs.queue_stats(session).pending == 1  # the second send waits for the budget


def test_agents_active_threads_go_before_new_conversations(
    engine: Engine, clock: FakeClock
) -> None:
    with Session(engine) as session:
        waiting = [_conversation(session, f"+1415555010{n}", clock) for n in range(3)]
        active = _conversation(session, "+14155550109", clock)
        assert active.id is not None
        session.add(
            InboxEntry(
                conversation_id=active.id,
                contact_id=active.contact_id,
                first_response_at=clock.now(),
            )
        )
        for conversation in waiting:
            jobs.enqueue_in_thread(session, kind="k", conversation=conversation, at=clock.now())
        clock.advance(5)  # the active thread's text came last
        jobs.enqueue_in_thread(session, kind="k", conversation=active, at=clock.now())
        session.commit()
        order = []
        while job := jobs.claim_next(session, now=clock.now(), worker="w", lease=LEASE):
            order.append(job.conversation_id)
            jobs.complete(session, job=job, now=clock.now())
            session.commit()
        assert order == [active.id] + [c.id for c in waiting]


def _contact(session: Session, phone: str) -> int:
    contact = Contact(phone=phone)
    session.add(contact)
    session.flush()
    assert contact.id is not None
    return contact.id


def _conversation(session: Session, phone: str, clock: FakeClock) -> Conversation:
    conversation = Conversation(
        contact_id=_contact(session, phone), channel="C1", business_number="+15550001111"
    )
    session.add(conversation)
    session.flush()
    return conversation
