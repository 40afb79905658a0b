"""Flood control: past FLOOD_LIMIT texts a minute, one post a minute and no automatic answers;
every text is still stored and shown, in order."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import col, select

from store.models import Message
from tests.conftest import CHANNEL, FakeClock
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import texts_in
from tests.live import Bridge, bridges

START = datetime(2026, 3, 12, 18, 0, 10, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def bridge(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, clock: FakeClock
) -> Iterator[Bridge]:
    env = {
        "FLOOD_LIMIT": "3",
        "AUTORESPOND": "non-consented",
        "AUTORESPOND_COOLDOWN_HOURS": "0",
        "ORGANIZATION_PREFIX": "Shop",
    }
    with bridges(tmp_path, slack, twilio_api, **env) as boot:
        yield boot(clock=clock)


def thread_texts(bridge: Bridge) -> list[str]:
    """The thread's messages; none while its parent is not posted yet (texts are applied and
    posted in the background)."""
    parents = bridge.slack.top_level(CHANNEL)
    assert len(parents) <= 1
    return texts_in(bridge.slack, parents[0]["ts"]) if parents else []


def test_a_flooding_number_gets_one_post_a_minute_and_no_automatic_answers(
    bridge: Bridge, clock: FakeClock
) -> None:
    for n in range(1, 4):
        bridge.text(f"text {n}")
        clock.advance(1)
    bridge.slack.wait_for(lambda: len(bridge.twilio_api.sent) == 3, timeout=10)
    for n in range(4, 9):
        bridge.text(f"text {n}")
        clock.advance(1)
    bridge.slack.wait_for(lambda: any("more than 3 texts" in t for t in thread_texts(bridge)))
    shown = thread_texts(bridge)
    # The first three went one by one, each answered; the rest wait for the minute to turn.
    assert [t for t in shown if t.startswith("text ")] == ["text 1", "text 2", "text 3"]
    assert len([t for t in shown if "Answered automatically" in t]) == 3

    clock.current = START.replace(second=0) + timedelta(minutes=1, seconds=1)
    bridge.slack.wait_for(lambda: any("text 8" in t for t in thread_texts(bridge)), timeout=10)
    combined = [t for t in thread_texts(bridge) if "text 4" in t]
    assert len(combined) == 1
    lines = combined[0].splitlines()
    assert [line.split("] ", 1)[1] for line in lines] == [f"text {n}" for n in range(4, 9)]
    assert lines[0].startswith("[18:00:13] ")

    # Still flooding in the next minute: again one post, and no second note.
    bridge.text("text 9")
    bridge.text("text 10")
    clock.current = START.replace(second=0) + timedelta(minutes=2, seconds=1)
    bridge.slack.wait_for(lambda: any("text 10" in t for t in thread_texts(bridge)), timeout=10)
    shown = thread_texts(bridge)
    assert [t for t in shown if "text 9" in t] == ["[18:01:01] text 9\n[18:01:01] text 10"]
    assert len([t for t in shown if "more than 3 texts" in t]) == 1
    assert len(bridge.twilio_api.sent) == 3  # no automatic answer to the flood
    with bridge.database() as session:
        bodies = [m.body for m in session.exec(select(Message).order_by(col(Message.id)))]
    assert [b for b in bodies if b.startswith("text ")] == [f"text {n}" for n in range(1, 11)]
    # Each text is shown: in its own post, or in the post of the first text of its minute.
    all_posted(bridge)


def bridge_messages(bridge: Bridge) -> list[Message]:
    with bridge.database() as session:
        return list(session.exec(select(Message)))


def test_below_the_limit_nothing_changes(bridge: Bridge, clock: FakeClock) -> None:
    for n in range(1, 4):
        bridge.text(f"text {n}")
        clock.advance(1)
    clock.advance(60)
    bridge.text("text 4")
    bridge.slack.wait_for(lambda: "text 4" in thread_texts(bridge), timeout=10)
    assert [t for t in thread_texts(bridge) if t.startswith("text ")] == [
        f"text {n}" for n in range(1, 5)
    ]
    assert not any("more than" in t for t in thread_texts(bridge))


def all_posted(bridge: Bridge) -> None:
    """Every inbound text marked posted; the post shows in Slack a moment before its row is."""

    def posted() -> bool:
        statuses = {m.status for m in bridge_messages(bridge) if m.direction == "inbound"}
        return statuses == {"posted"}

    bridge.slack.wait_for(posted, timeout=10)


def test_a_combined_post_whose_answer_was_lost_is_neither_doubled_nor_split(
    bridge: Bridge, clock: FakeClock
) -> None:
    for n in range(1, 8):
        bridge.text(f"text {n}")
        clock.advance(1)
        if n == 3:
            # Answered first, as in the test above: an automatic answer stored after text 4
            # shows between texts in the thread, and texts are never combined across it.
            bridge.slack.wait_for(lambda: len(bridge.twilio_api.sent) == 3, timeout=10)
    bridge.slack.wait_for(lambda: any("more than 3 texts" in t for t in thread_texts(bridge)))
    # Slack stores the combined post but its answer never arrives (a 500 after the effect).
    bridge.slack.fail("chat.postMessage", status=500, effect=True)
    clock.current = START.replace(second=0) + timedelta(minutes=1, seconds=1)
    bridge.slack.wait_for(lambda: any("text 7" in t for t in thread_texts(bridge)), timeout=10)
    bridge.text("text 8")  # wakes the worker for the retry, and waits for the next minute
    clock.current = START.replace(second=0) + timedelta(minutes=2, seconds=1)
    bridge.slack.wait_for(lambda: any("text 8" in t for t in thread_texts(bridge)), timeout=15)
    shown = [t for t in thread_texts(bridge) if "text " in t]
    assert shown == [
        "text 1",
        "text 2",
        "text 3",
        "\n".join(f"[18:00:{10 + n}] text {n + 1}" for n in range(3, 7)),
        "text 8",  # alone in its minute: shown as it came
    ]
    all_posted(bridge)
