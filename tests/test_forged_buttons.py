"""Forged or replayed button presses: refused, and nothing is sent or changed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from bot.blocks import (
    CANCEL_HELD,
    MARK_UNSUBSCRIBED,
    SEND_HELD_NOW,
    SET_TIMEZONE,
    TIMEZONE_BLOCK,
    TIMEZONE_INPUT,
)
from store.models import Contact, Message, TimezoneChange
from tests.conftest import CHANNEL, FakeClock
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.live import ADMIN, MANAGER, MEMBER, Bridge, bridges
from tests.slack_events import ephemeral_press

# 5:02 a.m. for the customer (415): a reply now is held, and its buttons matter.
EARLY = datetime(2026, 1, 12, 13, 2, tzinfo=UTC)
HELD = "hourglass_flowing_sand"
OTHER_MANAGER = "UMANAGER2"


@pytest.fixture
def bridge(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> Iterator[Bridge]:
    slack.add_user(OTHER_MANAGER, "max")
    env = {
        "QUIET_HOURS": "08:00-21:00",
        "AUTORESPOND": "off",
        "OPT_IN_TEXT": "",
        "SLACK_MANAGERS": f"{MANAGER},{OTHER_MANAGER}",
    }
    with bridges(tmp_path, slack, twilio_api, **env) as boot:
        yield boot(clock=FakeClock(EARLY))


def held_reply(bridge: Bridge, thread: str, author: str = MANAGER) -> Message:
    ts = bridge.reply(thread, author, "Yes, it ships today")
    bridge.wait_reaction(ts, HELD)
    with bridge.database() as session:
        return session.exec(select(Message).where(Message.slack_ts == ts)).one()


def press(user: str, action_id: str, value: str, thread: str) -> dict[str, Any]:
    """A press on the held notice, an ephemeral message in the thread."""
    return ephemeral_press(user, action_id, value, channel=CHANNEL, thread_ts=thread)


def told(slack: SlackEmulator, user: str, count: int) -> list[str]:
    def enough() -> bool:
        return len([e for e in slack.ephemerals if e["user"] == user]) >= count

    slack.wait_for(enough, timeout=10)
    return [str(e["text"]) for e in slack.ephemerals if e["user"] == user]


def status_of(bridge: Bridge, message_id: int) -> tuple[str, str | None]:
    with bridge.database() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.status, message.send_now_by


def settle() -> None:
    """Long enough for a worker that had something to do to have done it."""
    time.sleep(1.0)


def test_another_manager_cannot_send_or_cancel_someone_elses_held_reply(bridge: Bridge) -> None:
    thread = bridge.thread()
    reply = held_reply(bridge, thread)
    for action in (SEND_HELD_NOW, CANCEL_HELD):
        answer = bridge.events.interaction(press(OTHER_MANAGER, action, str(reply.id), thread))
        assert answer.status_code == 200
    answers = told(bridge.slack, OTHER_MANAGER, 2)
    assert all("Only the reply's author" in text for text in answers)
    settle()
    assert status_of(bridge, reply.id or 0) == ("pending", None)
    assert bridge.sent_bodies() == []
    assert [a.decision for a in bridge.audit()] == ["held"]


def test_a_member_cannot_press_for_any_reply_by_guessing_its_id(bridge: Bridge) -> None:
    thread = bridge.thread()
    reply = held_reply(bridge, thread)
    guesses = [str(reply.id), str((reply.id or 0) + 1), "1", "0", "-1", "1e3", "x" * 300]
    for value in guesses:
        bridge.events.interaction(press(MEMBER, SEND_HELD_NOW, value, thread))
    # Only digit values are looked up; each answer says no, or that no such reply exists.
    answers = told(bridge.slack, MEMBER, 4)
    assert "Only the reply's author" in answers[0]
    assert all("Only the reply's author" in text or "no longer known" in text for text in answers)
    settle()
    assert status_of(bridge, reply.id or 0) == ("pending", None)
    assert bridge.sent_bodies() == []


def test_a_forged_signature_or_a_stale_replay_is_refused(bridge: Bridge) -> None:
    thread = bridge.thread()
    reply = held_reply(bridge, thread, author=ADMIN)
    payload = press(ADMIN, SEND_HELD_NOW, str(reply.id), thread)
    forged = bridge.events.interaction(payload, signature="v0=" + "0" * 64)
    assert forged.status_code == 401
    # A request captured off the wire and replayed ten minutes later: Slack's window is 5.
    stale = bridge.events.interaction(payload, timestamp=int(time.time()) - 600)
    assert stale.status_code == 401
    unsigned = bridge.events.interaction(payload, signature="")
    assert unsigned.status_code == 401
    settle()
    assert status_of(bridge, reply.id or 0) == ("pending", None)
    assert bridge.sent_bodies() == []
    assert [e for e in bridge.slack.ephemerals if e["user"] == ADMIN and not e.get("blocks")] == []


def test_a_replayed_press_changes_nothing_twice(bridge: Bridge) -> None:
    thread = bridge.thread()
    reply = held_reply(bridge, thread, author=ADMIN)
    request = bridge.events.interaction_request(press(ADMIN, SEND_HELD_NOW, str(reply.id), thread))
    with httpx.Client(timeout=10) as client:
        assert client.send(request).status_code == 200
        bridge.wait_sent(1)
        assert client.send(request).status_code == 200  # the same bytes, within the window
    answers = told(bridge.slack, ADMIN, 3)
    assert answers[-1].startswith("Nothing changed")
    settle()
    assert bridge.sent_bodies() == ["Yes, it ships today"]
    assert [a.decision for a in bridge.audit()].count("send-now") == 1


def test_a_member_cannot_set_a_time_zone_through_a_forged_dialog(bridge: Bridge) -> None:
    bridge.thread()
    with bridge.database() as session:
        contact = session.exec(select(Contact)).one()
    view = {
        "type": "modal",
        "callback_id": SET_TIMEZONE,
        "private_metadata": str(contact.id),
        "state": {"values": {TIMEZONE_BLOCK: {TIMEZONE_INPUT: {"value": "Asia/Tokyo"}}}},
    }
    answer = bridge.events.interaction(
        {"type": "view_submission", "user": {"id": MEMBER}, "view": view}
    )
    assert answer.status_code == 200
    assert "Only owners, admins" in answer.json()["errors"][TIMEZONE_BLOCK]
    # A dialog for a contact that does not exist, by an admin: refused, nothing recorded.
    view["private_metadata"] = "999999"
    answer = bridge.events.interaction(
        {"type": "view_submission", "user": {"id": ADMIN}, "view": view}
    )
    assert answer.status_code == 200
    assert TIMEZONE_BLOCK in answer.json()["errors"]
    with bridge.database() as session:
        assert session.exec(select(TimezoneChange)).all() == []
        assert session.exec(select(Contact)).one().timezone is None


def test_mark_unsubscribed_forged_on_an_agents_reply_changes_no_consent(
    bridge: Bridge,
) -> None:
    """Opting someone out needs no role (it only ever stops texts), but the button only
    works on a customer's own text: a value naming a reply or nothing is ignored."""
    thread = bridge.thread()
    reply = held_reply(bridge, thread, author=ADMIN)
    for value in (str(reply.id), "424242", ""):
        payload = press(MEMBER, MARK_UNSUBSCRIBED, value, thread)
        payload["message"] = {"type": "message", "ts": thread, "thread_ts": thread}
        assert bridge.events.interaction(payload).status_code == 200
    settle()
    with bridge.database() as session:
        assert session.exec(select(Contact)).one().consent == "subscribed"
