"""A backlog's combined post stays one post: its retry after a lost answer neither doubles nor
splits it, even when the backlog that made it is gone by then."""

from __future__ import annotations

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.poster import SlackPoster, make_client
from bridge.config import load_settings
from bridge.delivery import Delivery
from bridge.ids import MessageSid
from bridge.inbound import POST_TEXT, InboundText, accept
from bridge.worker import DeliveryWorker, Dispatch, JobRunner
from store import jobs
from store.models import DeliveryJob
from tests.conftest import BUSINESS, CHANNEL, SLACK_TOKEN, FakeClock, base_env
from tests.emulators import SlackEmulator
from tests.harness import texts_in

ANN, BOB, CAT, DAN = "+14155550100", "+14155550101", "+14155550102", "+14155550103"


def test_a_combined_post_whose_answer_was_lost_is_posted_once_after_the_backlog_is_gone(
    engine: Engine, slack: SlackEmulator, clock: FakeClock
) -> None:
    settings = load_settings(base_env(AUTORESPOND="off"), env_file=None)
    poster = SlackPoster(make_client(token=SLACK_TOKEN, base_url=slack.url), rate=100, burst=100)
    # Four Slack jobs waiting in the channel make a backlog.
    runners: dict[str, JobRunner] = {
        POST_TEXT: Delivery(sink=poster, default_zone="America/New_York", backlog_jobs=4)
    }
    worker = DeliveryWorker(engine=engine, runner=Dispatch(runners), clock=clock)
    sid = 0

    def text(sender: str, body: str) -> None:
        nonlocal sid
        sid += 1
        inbound = InboundText(MessageSid(f"SM{sid:032x}"), sender, BUSINESS, body)
        with Session(engine) as session:
            accept(session, settings=settings, text=inbound, at=clock.now())
        clock.advance(1)

    def run_until_idle() -> None:
        for _ in range(100):
            while worker._run_one():
                pass
            with Session(engine) as session:
                due = session.exec(
                    select(func.min(DeliveryJob.dispatch_time))
                    .where(DeliveryJob.state == jobs.PENDING)
                    .where(col(DeliveryJob.dispatch_time) > clock.now())
                ).one()
            if due is None:
                return
            clock.current = due

    text(ANN, "ann 1")
    run_until_idle()
    [ann_thread] = slack.top_level(CHANNEL)
    for n in (2, 3, 4):
        text(ANN, f"ann {n}")
    for sender, name in ((BOB, "bob"), (CAT, "cat"), (DAN, "dan")):
        text(sender, f"{name} 1")
    # Ann's turn posts her three waiting texts at once; Slack stores the post, but its answer
    # is lost. Bob, Cat and Dan go meanwhile, and by the retry nothing else waits.
    slack.fail("chat.postMessage", status=500, effect=True)
    run_until_idle()

    shown = texts_in(slack, ann_thread["ts"])
    assert shown[0] == "ann 1"
    assert len(shown) == 2, shown
    assert [line.split("] ")[-1] for line in shown[1].split("\n")] == ["ann 2", "ann 3", "ann 4"]
    assert len(slack.top_level(CHANNEL)) == 4  # one thread each
    with Session(engine) as session:
        pending = session.exec(select(DeliveryJob).where(DeliveryJob.state == jobs.PENDING))
        assert [j for j in pending if j.kind == POST_TEXT] == []
