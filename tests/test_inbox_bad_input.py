"""Odd inbox requests: signed but malformed, or stale, never crash and change nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bot.inbox_blocks import CLAIM, RESOLVE
from store.models import HomeViewer, InboxAction
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import wait_for_thread
from tests.inbox_helpers import answer, click_header, header, inbox_bridge, slash
from tests.live import ADMIN, Bridge


@pytest.fixture
def bridge(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> Iterator[Bridge]:
    with inbox_bridge(tmp_path, slack, twilio_api, AUTORESPOND="off") as running:
        yield running


@pytest.mark.parametrize(
    "event",
    [
        {"type": "app_home_opened", "tab": "home"},  # no user
        {"type": "app_home_opened", "user": ADMIN, "tab": "messages"},  # not the Home tab
        {"type": "app_home_opened", "user": ["U1"], "tab": "home"},
    ],
)
def test_odd_home_events_are_acknowledged_and_ignored(
    bridge: Bridge, event: dict[str, Any]
) -> None:
    assert bridge.events.send_event(event).status_code == 200
    with bridge.database() as session:
        assert session.exec(select(HomeViewer)).all() == []
    assert bridge.slack.calls_to("views.publish") == []


def test_buttons_with_odd_values_change_nothing(bridge: Bridge) -> None:
    bridge.text("hello")
    [parent] = wait_for_thread(bridge.slack, replies=1)
    ts = str(parent["ts"])
    for value in ("", "abc", "-1", "999999"):
        click_header(bridge, ts, CLAIM, value, ADMIN)
    bridge.slack.wait_for(lambda: len(bridge.slack.ephemerals) >= 1, 10)
    assert [e["text"] for e in bridge.slack.ephemerals] == ["That conversation no longer exists."]
    with bridge.database() as session:
        assert session.exec(select(InboxAction)).all() == []
    assert "Claimed" not in header(bridge.slack, ts)
    # A payload without actions at all is acknowledged, not a crash.
    payload = {"type": "block_actions", "user": {"id": ADMIN}, "actions": []}
    assert bridge.events.interaction(payload).status_code == 200
    click_header(bridge, ts, RESOLVE, "1", ADMIN)
    bridge.slack.wait_for(lambda: "Resolved by" in header(bridge.slack, ts), 10)


@pytest.mark.parametrize("text", ["find " + "9" * 40, "find <@U0EVIL>", "stats 99999999d", "  "])
def test_odd_commands_get_an_answer(bridge: Bridge, text: str) -> None:
    shown = answer(slash(bridge, ADMIN, text))
    assert shown
    assert "<@U0EVIL>" not in shown
