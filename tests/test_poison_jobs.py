"""A job that fails the same way every time is set aside with its reason and blocks nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bot.poster import SlackPoster, make_client
from bridge.config import load_settings
from bridge.delivery import Delivery
from bridge.ids import MessageSid
from bridge.inbound import POST_TEXT, InboundText, accept
from bridge.parked_notice import ParkedNotice
from bridge.worker import PARKED_NOTICE, POISON_AFTER_FAILURES, DeliveryWorker, Dispatch, JobRunner
from store import jobs
from store.models import Conversation, DeliveryJob
from tests.conftest import BUSINESS, CHANNEL, SLACK_TOKEN, FakeClock, base_env
from tests.emulators import SlackEmulator
from tests.harness import run_worker_until_idle, texts_in


class Poison:
    """A job runner with a bug: it always fails the same way."""

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        raise RuntimeError("template bug")


def test_a_poison_job_is_parked_reported_and_blocks_nothing(
    engine: Engine, slack: SlackEmulator, clock: FakeClock
) -> None:
    settings = load_settings(base_env(AUTORESPOND="off"), env_file=None)
    poster = SlackPoster(make_client(token=SLACK_TOKEN, base_url=slack.url), rate=100, burst=100)
    runners: dict[str, JobRunner] = {
        POST_TEXT: Delivery(sink=poster, default_zone="America/New_York"),
        "poison": Poison(),
        PARKED_NOTICE: ParkedNotice(poster),
    }
    worker = DeliveryWorker(engine=engine, runner=Dispatch(runners), clock=clock)

    def text(n: int, body: str) -> None:
        inbound = InboundText(MessageSid(f"SM{n:032x}"), "+14155550100", BUSINESS, body)
        with Session(engine) as session:
            accept(session, settings=settings, text=inbound, at=clock.now())

    def run_until_idle() -> None:
        run_worker_until_idle(worker, engine, clock)

    text(1, "Hello")
    run_until_idle()
    with Session(engine) as session:
        conversation = session.exec(select(Conversation)).one()
        jobs.enqueue_in_thread(session, kind="poison", conversation=conversation, at=clock.now())
        session.commit()
    text(2, "Is anyone there?")
    run_until_idle()

    [thread] = slack.top_level(CHANNEL)
    shown = texts_in(slack, thread["ts"])
    assert "Is anyone there?" in shown
    [notice] = [t for t in shown if "could not deliver" in t]
    assert f"after {POISON_AFTER_FAILURES} attempts" in notice and "template bug" in notice
    with Session(engine) as session:
        [parked] = session.exec(select(DeliveryJob).where(DeliveryJob.kind == "poison")).all()
        assert parked.state == jobs.PARKED and parked.attempts == POISON_AFTER_FAILURES
        assert jobs.queue_stats(session).parked == 1
        assert (
            session.exec(select(DeliveryJob).where(col(DeliveryJob.state) == "pending")).all() == []
        )
