"""A backlog's combined post stays one post: its retry after a lost answer neither doubles nor
splits it, even when the backlog that made it is gone by then."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.poster import SlackPoster, make_client
from bridge.config import load_settings
from bridge.delivery import Delivery
from bridge.flood import Backlog
from bridge.ids import MessageSid
from bridge.inbound import POST_TEXT, InboundText, accept
from bridge.worker import DeliveryWorker, Dispatch, JobRunner
from store import jobs
from store.models import DeliveryJob
from tests.conftest import BUSINESS, CHANNEL, SLACK_TOKEN, FakeClock, base_env
from tests.emulators import SlackEmulator
from tests.harness import texts_in

ANN, BOB, CAT, DAN = "+14155550100", "+14155550101", "+14155550102", "+14155550103"


Text = Callable[[str, str], None]


def channel(
    engine: Engine, slack: SlackEmulator, clock: FakeClock, backlog: Backlog
) -> tuple[Text, Callable[[], None]]:
    """How a test texts the inbox (a second passes per text), and runs the delivery worker
    until nothing is due (the clock jumping to each retry)."""
    settings = load_settings(base_env(AUTORESPOND="off"), env_file=None)
    poster = SlackPoster(make_client(token=SLACK_TOKEN, base_url=slack.url), rate=100, burst=100)
    runners: dict[str, JobRunner] = {
        POST_TEXT: Delivery(sink=poster, default_zone="America/New_York", backlog=backlog)
    }
    worker = DeliveryWorker(engine=engine, runner=Dispatch(runners), clock=clock)
    sent = itertools.count(1)

    def text(sender: str, body: str) -> None:
        inbound = InboundText(MessageSid(f"SM{next(sent):032x}"), sender, BUSINESS, body)
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

    return text, run_until_idle


def lines(post: str) -> list[str]:
    """The texts of a post, without the times a combined post shows them with."""
    return [line.split("] ")[-1] for line in post.split("\n")]


def test_a_combined_post_whose_answer_was_lost_is_posted_once_after_the_backlog_is_gone(
    engine: Engine, slack: SlackEmulator, clock: FakeClock
) -> None:
    # Four Slack jobs waiting in the channel make a backlog, and fewer end it.
    text, run_until_idle = channel(engine, slack, clock, Backlog(jobs=4, until=4))
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
    assert lines(shown[1]) == ["ann 2", "ann 3", "ann 4"]
    assert len(slack.top_level(CHANNEL)) == 4  # one thread each
    with Session(engine) as session:
        pending = session.exec(select(DeliveryJob).where(DeliveryJob.state == jobs.PENDING))
        assert [j for j in pending if j.kind == POST_TEXT] == []


def test_a_channel_stays_behind_until_its_backlog_is_worked_off(
    engine: Engine, slack: SlackEmulator, clock: FakeClock
) -> None:
    """The end of a burst: fewer jobs are left than make a backlog, but the channel has not
    caught up; the last conversations' waiting texts still go together."""
    text, run_until_idle = channel(engine, slack, clock, Backlog(jobs=5, until=2))
    for sender, name in ((ANN, "ann"), (BOB, "bob"), (CAT, "cat")):
        for n in (1, 2):
            text(sender, f"{name} {n}")
    run_until_idle()
    threads = [texts_in(slack, thread["ts"]) for thread in slack.top_level(CHANNEL)]
    assert [[lines(post) for post in posts] for posts in threads] == [
        [[f"{name} 1", f"{name} 2"]] for name in ("ann", "bob", "cat")
    ]


def test_without_a_backlog_each_text_is_its_own_post(
    engine: Engine, slack: SlackEmulator, clock: FakeClock
) -> None:
    text, run_until_idle = channel(engine, slack, clock, Backlog(jobs=4, until=2))
    for n in (1, 2, 3):
        text(ANN, f"ann {n}")
    run_until_idle()
    [thread] = slack.top_level(CHANNEL)
    assert texts_in(slack, thread["ts"]) == ["ann 1", "ann 2", "ann 3"]
