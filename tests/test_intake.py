"""The webhook intake: what was acked is stored, and applied once, in order, after a crash too."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, update
from sqlmodel import Session, col, select

from bot.event_intake import SLACK, slack_handler
from bridge.config import Settings
from bridge.erasure import forget
from bridge.inbound import InboundText, accept
from bridge.intake import PARK_AFTER_FAILURES, IntakeHandler, IntakeProcessor
from bridge.intake_writer import IntakeWriter
from bridge.retention import purge
from bridge.twilio_webhook import TWILIO, Params, parse_inbound, twilio_handler
from store import intake
from store.engine import is_sqlite, make_engine, write_gate
from store.intake import Claimed, IntakeRow
from store.models import Contact, Conversation, DeliveryJob, Message, WebhookIntake
from tests.conftest import CHANNEL, FakeClock
from tests.harness import Twilio
from tests.slack_events import SlackEvents


def text_row(n: int, sender: str, body: str, at: datetime) -> IntakeRow:
    """A verified inbound-text webhook as the endpoint stores it."""
    params = Twilio("http://unused", "http://unused").params(n, body, sender)
    return IntakeRow(
        key=f"{TWILIO}:{params['MessageSid']}",
        source=TWILIO,
        order_key=f"{TWILIO}:{sender}",
        payload=json.dumps(list(params.items())),
        received_at=at,
    )


def store(engine: Engine, *rows: IntakeRow) -> None:
    """Store rows the way the endpoints do (one batch when given together), then return."""
    writer = IntakeWriter(engine, on_stored=lambda: None)

    async def all_at_once() -> None:
        await asyncio.gather(*(writer.store(row) for row in rows))

    try:
        asyncio.run(all_at_once())
    finally:
        writer.stop()


@contextmanager
def running(
    engine: Engine, handlers: dict[str, IntakeHandler], clock: FakeClock | None = None
) -> Iterator[IntakeProcessor]:
    processor = IntakeProcessor(
        engine=engine, handlers=handlers, clock=clock or FakeClock(), on_applied=lambda: None
    )
    processor.start()
    try:
        yield processor
    finally:
        processor.stop()


def waiting(engine: Engine) -> int:
    with Session(intake.engine_for(engine)) as session:
        return intake.backlog(session)


def wait_until(done: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def inbound_bodies(engine: Engine) -> list[str]:
    with Session(engine) as session:
        query = (
            select(Message.body)
            .where(col(Message.direction) == "inbound")
            .order_by(col(Message.id))
        )
        return list(session.exec(query))


def post_jobs(engine: Engine) -> int:
    with Session(engine) as session:
        query = (
            select(func.count())
            .select_from(DeliveryJob)
            .where(col(DeliveryJob.kind) == "post_text")
        )
        return int(session.execute(query).scalar_one())


def test_texts_stored_before_a_crash_are_applied_once_after_the_restart(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    at = clock.now()
    rows = [text_row(n, "+14155550100", f"text {n}", at) for n in range(1, 4)]
    store(engine, *rows)  # acked; the process dies before its intake ran
    assert waiting(engine) == 3
    # The first text had been applied, but the process died before its row was deleted.
    first = parse_inbound(Params(json.loads(rows[0].payload)))[0]
    assert isinstance(first, InboundText)
    with Session(engine) as session:
        accept(session, settings=settings, text=first, at=at)

    with running(engine, {TWILIO: twilio_handler(settings)}, clock):
        wait_until(lambda: waiting(engine) == 0)
    assert inbound_bodies(engine) == ["text 1", "text 2", "text 3"]
    assert post_jobs(engine) == 3


def test_a_retried_webhook_is_stored_and_applied_once(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    row = text_row(7, "+14155550100", "where is my order?", clock.now())
    store(engine, row, row)  # Twilio's retry arrives while the first is being stored
    store(engine, row)  # and once more, later
    assert waiting(engine) == 1
    with running(engine, {TWILIO: twilio_handler(settings)}, clock):
        wait_until(lambda: waiting(engine) == 0)
        store(engine, row)  # a retry after it was applied
        wait_until(lambda: waiting(engine) == 0)
    assert inbound_bodies(engine) == ["where is my order?"]
    assert post_jobs(engine) == 1


class Recorder:
    """A handler that records what it applied, failing the rows it is told to fail once."""

    def __init__(self, fail_once: frozenset[str] = frozenset(), pause: float = 0.0) -> None:
        self.applied: list[tuple[str, str, float, float]] = []
        self._fail = set(fail_once)
        self._pause = pause
        self._lock = threading.Lock()

    def __call__(self, _session: Session, row: Claimed) -> None:
        sender, body = json.loads(row.payload)
        if body in self._fail:
            self._fail.discard(body)
            raise RuntimeError("a bug, once")
        began = time.monotonic()
        time.sleep(self._pause)
        with self._lock:
            self.applied.append((sender, body, began, time.monotonic()))

    def bodies(self, sender: str | None = None) -> list[str]:
        return [body for s, body, _, _ in self.applied if sender is None or s == sender]


def recorded_row(n: int, sender: str, at: datetime) -> IntakeRow:
    return IntakeRow(
        key=f"test:{n}",
        source="test",
        order_key=f"test:{sender}",
        payload=json.dumps([sender, f"{sender} {n}"]),
        received_at=at,
    )


def test_a_failing_row_holds_its_sender_back_but_not_the_others(
    engine: Engine, clock: FakeClock
) -> None:
    at = clock.now()
    store(engine, *(recorded_row(n, "alice" if n % 2 else "bob", at) for n in range(1, 7)))
    recorder = Recorder(fail_once=frozenset({"alice 1"}))
    with running(engine, {"test": recorder}, clock) as processor:
        wait_until(lambda: len(recorder.applied) == 3)
        time.sleep(0.3)
        assert recorder.bodies("bob") == ["bob 2", "bob 4", "bob 6"]
        assert recorder.bodies("alice") == []  # alice 1 waits for its retry; 3 and 5 behind it
        clock.advance(600)
        processor.wake()
        wait_until(lambda: len(recorder.applied) == 6)
    assert recorder.bodies("alice") == ["alice 1", "alice 3", "alice 5"]
    assert waiting(engine) == 0


def test_a_row_that_always_fails_is_parked_and_the_rest_go_on(
    engine: Engine, clock: FakeClock
) -> None:
    at = clock.now()
    store(engine, *(recorded_row(n, "alice", at) for n in range(1, 4)))

    def broken(session: Session, row: Claimed) -> None:
        if json.loads(row.payload)[1] == "alice 1":
            raise RuntimeError("always")
        recorder(session, row)

    recorder = Recorder()
    with running(engine, {"test": broken}, clock) as processor:
        for _ in range(PARK_AFTER_FAILURES):
            clock.advance(600)  # past each retry's backoff
            processor.wake()
            time.sleep(0.2)
        wait_until(lambda: len(recorder.applied) == 2)
    assert recorder.bodies() == ["alice 2", "alice 3"]
    with Session(intake.engine_for(engine)) as session:
        [parked] = session.exec(select(WebhookIntake)).all()
    assert parked.parked_at is not None and parked.error == "RuntimeError"
    assert parked.attempts == PARK_AFTER_FAILURES


def test_several_processors_apply_each_row_once_in_order_per_sender(
    engine: Engine, clock: FakeClock
) -> None:
    """As with several processes on one PostgreSQL database, each with its own engine (SQLite
    is served by one process: there, two processors of one process share its engine)."""
    at = clock.now()
    senders = ["alice", "bob", "carol", "dave"]
    store(engine, *(recorded_row(n, senders[n % 4], at) for n in range(40)))
    recorder = Recorder(pause=0.005)
    second = engine if is_sqlite(engine) else make_engine(str(engine.url.render_as_string(False)))
    engines = [engine, second]
    try:
        with (
            running(engines[0], {"test": recorder}, clock),
            running(engines[1], {"test": recorder}, clock),
        ):
            wait_until(lambda: waiting(engine) == 0, timeout=30)
    finally:
        if second is not engine:
            second.dispose()
    assert sorted(recorder.bodies()) == sorted(f"{senders[n % 4]} {n}" for n in range(40))
    for sender in senders:
        mine = [(began, ended, body) for s, body, began, ended in recorder.applied if s == sender]
        expected = [f"{sender} {n}" for n in range(40) if senders[n % 4] == sender]
        assert [body for _, _, body in mine] == expected
        # One at a time: each began after the one before it ended.
        assert all(later[0] >= earlier[1] for earlier, later in itertools.pairwise(mine))


def test_thread_messages_are_applied_in_order_after_a_crash(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    """A reply, its edit and its deletion, stored before a crash: the reply ends up cancelled."""
    at = clock.now()
    # A contact's thread: a text was applied and its parent posted.
    store(engine, text_row(1, "+14155550100", "hi", at))
    with running(engine, {TWILIO: twilio_handler(settings)}, clock):
        wait_until(lambda: waiting(engine) == 0)
    with Session(engine) as session:
        message = session.exec(select(Message)).one()
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None
        conversation.parent_ts = "1700000000.000100"
        session.add(conversation)
        session.commit()
    events = SlackEvents("http://unused", "secret")
    reply = events.message_event(CHANNEL, "UADMIN", "On its way", thread_ts="1700000000.000100")
    edit = events.changed_event(CHANNEL, reply, text="On its way, tomorrow")
    delete = events.deleted_event(CHANNEL, edit["message"])
    rows = thread_rows(events, [reply, edit, delete], at)
    store(engine, *rows)
    channels = frozenset({CHANNEL})
    with running(engine, {SLACK: slack_handler(settings, channels)}, clock):
        wait_until(lambda: waiting(engine) == 0)
    with Session(engine) as session:
        [sent] = session.exec(select(Message).where(col(Message.kind) == "reply")).all()
    assert sent.body == "On its way, tomorrow"  # the edit came after the reply, in order
    assert sent.status == "cancelled"


def thread_rows(
    events: SlackEvents, messages: list[dict[str, Any]], at: datetime
) -> list[IntakeRow]:
    """The stored rows of message events in the thread 1700000000.000100, in order."""
    rows = []
    for event in messages:
        envelope = events.envelope(event)
        rows.append(
            IntakeRow(
                key=f"{SLACK}:{envelope['event_id']}",
                source=SLACK,
                order_key=f"{SLACK}:{CHANNEL}:1700000000.000100",
                payload=json.dumps(envelope),
                received_at=at,
            )
        )
    return rows


def test_a_webhook_is_stored_while_a_domain_transaction_holds_the_write_lock(
    engine: Engine, clock: FakeClock
) -> None:
    """On a SQLite file the stored webhooks have a file of their own: an ack never waits for
    the database's single writer (a text being applied, a delivery being recorded)."""
    if not is_sqlite(engine):
        pytest.skip("PostgreSQL has row locks: one database serves both")
    stored = threading.Event()

    def ack() -> None:
        store(engine, recorded_row(1, "alice", clock.now()))
        stored.set()

    with write_gate(engine), engine.begin() as busy:
        busy.execute(update(Contact).values(name="x"))  # SQLite's write lock, held
        thread = threading.Thread(target=ack)
        thread.start()
        stored.wait(10)
        held_meanwhile = stored.is_set()
    thread.join(10)
    assert held_meanwhile
    assert waiting(engine) == 1


def test_thread_messages_applied_again_after_a_crash_change_nothing_twice(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    """Applied and committed, then the process died before the rows were deleted: applying
    them again (as the next start does) leaves one reply, as edited, and no second send."""
    at = clock.now()
    store(engine, text_row(1, "+14155550100", "hi", at))
    with running(engine, {TWILIO: twilio_handler(settings)}, clock):
        wait_until(lambda: waiting(engine) == 0)
    with Session(engine) as session:
        conversation = session.exec(select(Conversation)).one()
        conversation.parent_ts = "1700000000.000100"
        session.add(conversation)
        session.commit()
    events = SlackEvents("http://unused", "secret")
    reply = events.message_event(CHANNEL, "UADMIN", "On its way", thread_ts="1700000000.000100")
    edit = events.changed_event(CHANNEL, reply, text="On its way, tomorrow")
    rows = thread_rows(events, [reply, edit], at)
    handlers = {SLACK: slack_handler(settings, frozenset({CHANNEL}))}
    after: list[tuple[list[str], int]] = []
    for _ in range(2):  # the second time: the same rows, left behind by a crash
        store(engine, *rows)
        with running(engine, handlers, clock):
            wait_until(lambda: waiting(engine) == 0)
        after.append(replies_and_jobs(engine))
    assert after[0] == after[1]
    assert after[0][0] == ["On its way, tomorrow"]


def replies_and_jobs(engine: Engine) -> tuple[list[str], int]:
    """The replies' words, and how many delivery jobs wait or ran."""
    with Session(engine) as session:
        replies = session.exec(select(Message.body).where(col(Message.kind) == "reply")).all()
        count = session.execute(select(func.count()).select_from(DeliveryJob)).scalar_one()
    return list(replies), int(count)


def test_rows_an_earlier_version_stored_in_the_database_move_to_the_intake_file(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    """Upgrading with a backlog: what the database itself held is applied, once, in order."""
    if not intake.is_separate(engine):
        pytest.skip("the rows live in the database itself")
    at = clock.now()
    rows = [text_row(n, "+14155550100", f"text {n}", at) for n in range(1, 4)]
    with engine.begin() as connection:  # as the version before stored them
        intake.add_all(connection, rows)
    store(engine, rows[0])  # and a copy already moved, by a start that crashed midway
    assert intake.adopt_leftovers(engine) == 3
    assert intake.adopt_leftovers(engine) == 0
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(WebhookIntake)).scalar_one() == 0
    with running(engine, {TWILIO: twilio_handler(settings)}, clock):
        wait_until(lambda: waiting(engine) == 0)
    assert inbound_bodies(engine) == ["text 1", "text 2", "text 3"]


def intake_values(engine: Engine) -> list[str]:
    """Every value the stored webhooks hold, wherever they live."""
    with Session(intake.engine_for(engine)) as session:
        rows = session.exec(select(WebhookIntake)).all()
    return [str(value) for row in rows for value in row.model_dump().values()]


def test_forget_erases_the_numbers_stored_webhooks(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    at = clock.now()
    store(engine, text_row(1, "+14155550100", "hello", at))
    with running(engine, {TWILIO: twilio_handler(settings)}, clock):
        wait_until(lambda: waiting(engine) == 0)
    # Two more texts stored, not yet applied; another customer's too.
    store(engine, text_row(2, "+14155550100", "my address is 12 Elm Street", at))
    store(engine, text_row(3, "+14155550100", "and my card ends 4242", at))
    store(engine, text_row(4, "+14155550199", "someone else", at))
    with Session(engine) as session:
        contact = session.exec(select(Contact).where(Contact.phone == "+14155550100")).one()
        forget(session, contact=contact, actor="test", at=at)
        session.commit()
    values = " ".join(intake_values(engine))
    assert "Elm Street" not in values and "4242" not in values and "4155550100" not in values
    assert "someone else" in values


def test_retention_purges_old_parked_webhooks(engine: Engine, clock: FakeClock) -> None:
    at = clock.now()
    store(engine, *(recorded_row(n, "alice", at) for n in range(1, 3)))

    def broken(_session: Session, _row: Claimed) -> None:
        raise RuntimeError("always")

    with running(engine, {"test": broken}, clock) as processor:
        for _ in range(2 * PARK_AFTER_FAILURES):
            clock.advance(600)
            processor.wake()
            time.sleep(0.1)
        wait_until(lambda: waiting(engine) == 0)
    assert len(intake_values(engine)) > 0  # parked, kept for the operator
    clock.advance(40 * 86400)
    with write_gate(engine), Session(engine) as session:
        purge(session, days=30, at=clock.now())
        session.commit()
    assert intake_values(engine) == []
