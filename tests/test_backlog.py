"""A backlog made visible: one status message in the channel, edited in place, then cleared."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from bot.poster import SlackPoster, make_client
from bridge.backlog import BacklogWatch
from bridge.inbound import POST_TEXT
from store import jobs
from store.engine import make_engine
from store.models import Contact, Conversation
from tests.conftest import CHANNEL, SLACK_TOKEN, FakeClock
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.live import bridges

RATE = 1.0


def watch(engine: Engine, slack: SlackEmulator, clock: FakeClock) -> BacklogWatch:
    client = make_client(token=SLACK_TOKEN, base_url=slack.url, timeout=5)
    poster = SlackPoster(client, rate=100, burst=100)
    return BacklogWatch(
        engine=engine, poster=poster, clock=clock, rate=RATE, show_after=timedelta(seconds=60)
    )


def waiting(engine: Engine, clock: FakeClock, conversations: int, texts: int) -> None:
    """`conversations` new conversations with `texts` texts each waiting to be posted."""
    with Session(engine) as session:
        known = len(session.exec(select(Contact)).all())
        for c in range(known, known + conversations):
            contact = Contact(phone=f"+1415555{c:04d}")
            session.add(contact)
            session.flush()
            assert contact.id is not None
            conversation = Conversation(
                contact_id=contact.id, channel=CHANNEL, business_number="+15550001111"
            )
            session.add(conversation)
            session.flush()
            for _ in range(texts):
                jobs.enqueue_in_thread(
                    session, kind=POST_TEXT, conversation=conversation, at=clock.now()
                )
        session.commit()


def drain(engine: Engine, clock: FakeClock) -> None:
    with Session(engine) as session:
        lease = timedelta(seconds=60)
        while job := jobs.claim_next(session, now=clock.now(), worker="w", lease=lease):
            jobs.complete(session, job=job, now=clock.now())
            session.commit()


def test_a_backlog_shows_one_status_message_updated_in_place_then_cleared(
    engine: Engine, slack: SlackEmulator, clock: FakeClock
) -> None:
    waiting(engine, clock, conversations=40, texts=3)  # 80 posts at 1 a second: 80 s
    watcher = watch(engine, slack, clock)
    watcher.tick()
    [status] = slack.top_level(CHANNEL)
    assert "120 updates for 40 conversations" in status["text"]
    assert "clears in about 80 s" in status["text"]
    clock.advance(5)
    watcher.tick()  # refreshed at most every 20 s
    assert len(slack.calls_to("chat.update")) == 0
    clock.advance(20)
    waiting(engine, clock, conversations=5, texts=1)
    watcher.tick()
    [status] = slack.top_level(CHANNEL)
    assert "125 updates for 45 conversations" in status["text"]
    assert "the oldest came in 25 s ago" in status["text"]
    drain(engine, clock)
    clock.advance(1)
    watcher.tick()
    [status] = slack.top_level(CHANNEL)
    assert "Backlog cleared" in status["text"] and "at most 125 updates" in status["text"]
    watcher.tick()
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_a_short_queue_is_not_a_backlog(
    engine: Engine, slack: SlackEmulator, clock: FakeClock
) -> None:
    waiting(engine, clock, conversations=10, texts=2)  # 20 posts: 20 s
    watch(engine, slack, clock).tick()
    assert slack.top_level(CHANNEL) == []


def test_two_processes_post_the_status_once(
    engine: Engine, slack: SlackEmulator, clock: FakeClock
) -> None:
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        waiting(engine, clock, conversations=40, texts=1)
        one, two = watch(engine, slack, clock), watch(other, slack, clock)
        for _ in range(3):
            one.tick()
            two.tick()
            clock.advance(21)
        assert len(slack.top_level(CHANNEL)) == 1
        assert len(slack.calls_to("chat.postMessage")) == 1
        assert len(slack.calls_to("chat.update")) == 2  # one edit per turn after the post
    finally:
        other.dispose()


def test_healthz_says_how_deep_the_backlog_is_and_when_it_clears(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> None:
    slow = {"SLACK_POST_RATE": "0.05", "SLACK_POST_BURST": "1", "AUTORESPOND": "off"}
    with bridges(tmp_path, slack, twilio_api, **slow) as start:
        app = start()
        for c in range(4):
            app.phone.text(c + 1, f"hello {c}", f"+1415555{c:04d}")
        slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) >= 1, timeout=10)
        body = httpx.get(f"{app.app.url}/healthz").json()
    assert body["status"] == "ok"
    [channel] = body["backlog"]["channels"]
    assert channel["channel"] == CHANNEL
    assert channel["pending"] >= 3 and channel["conversations"] >= 3
    # Each waiting conversation needs its thread parent and its text: 2 posts at 20 s each.
    assert channel["clears_in_seconds"] >= 3 * 2 / 0.05 - 20
    assert body["backlog"]["clears_in_seconds"] == channel["clears_in_seconds"]
