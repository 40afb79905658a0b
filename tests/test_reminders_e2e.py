"""Response-time reminders and the inbound broadcast, on an injected clock, across a restart."""

from __future__ import annotations

from pathlib import Path

import httpx
from sqlmodel import select

from bot.inbox_blocks import CLAIM
from store.models import DeliveryJob
from tests.conftest import CHANNEL, FakeClock
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import wait_for_thread
from tests.inbox_helpers import click_header, header, header_button, inbox_bridge
from tests.live import ADMIN

QUIET = {"AUTORESPOND": "off", "OPT_IN_TEXT": ""}


def _reminders(slack: SlackEmulator, parent: str) -> list[str]:
    return [m["text"] for m in slack.thread(CHANNEL, parent) if ":alarm_clock:" in m["text"]]


def test_one_reminder_after_the_sla_even_across_a_restart(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, clock: FakeClock
) -> None:
    env = {**QUIET, "RESPONSE_SLA_MINUTES": "30", "SLA_MENTION": "S0SUPPORT"}
    with inbox_bridge(tmp_path, slack, twilio_api, clock=clock, **env) as bridge:
        bridge.text("Hello? Anyone?")
        [parent] = wait_for_thread(slack, replies=1)
        ts = str(parent["ts"])
        clock.advance(29 * 60)
        bridge.text("Still waiting")  # the same wait: no second timer
        slack.wait_for(lambda: len(slack.thread(CHANNEL, ts)) == 2, 10)
    # The process stops before the reminder is due; the next one must still send it.
    clock.advance(2 * 60)
    with inbox_bridge(tmp_path, slack, twilio_api, clock=clock, **env) as bridge:
        slack.wait_for(lambda: bool(_reminders(slack, ts)), 10)
        [reminder] = _reminders(slack, ts)
        assert reminder.startswith("<!subteam^S0SUPPORT>")
        assert "waited over 30 minutes" in reminder
        slack.wait_for(lambda: "Overdue" in header(slack, ts), 10)
        clock.advance(60 * 60)
        bridge.phone.text(3, "Hello??")  # numbered on: a new Bridge counts SIDs from 1
        slack.wait_for(lambda: len(slack.thread(CHANNEL, ts)) == 4, 10)
        clock.advance(60 * 60)
        bridge.phone.text(4, "ping")  # wakes the worker; nothing more is due for this wait
        slack.wait_for(lambda: len(slack.thread(CHANNEL, ts)) == 5, 10)
        assert len(_reminders(slack, ts)) == 1


def test_a_reply_ends_the_wait_and_a_claimers_wait_mentions_them(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, clock: FakeClock
) -> None:
    env = {**QUIET, "RESPONSE_SLA_MINUTES": "10"}
    with inbox_bridge(tmp_path, slack, twilio_api, clock=clock, **env) as bridge:
        parent = bridge.thread()
        bridge.reply(parent, ADMIN, "On it")
        bridge.wait_sent(1)
        slack.wait_for(lambda: header_button(slack, parent, CLAIM) is not None, 10)
        clock.advance(11 * 60)
        bridge.text("ok")  # wakes the worker: the first wait was answered in time
        slack.wait_for(lambda: slack.thread(CHANNEL, parent)[-1]["text"] == "ok", 10)
        assert _reminders(slack, parent) == []
        button = header_button(slack, parent, CLAIM)
        assert button is not None
        click_header(bridge, parent, CLAIM, str(button["value"]), ADMIN)
        slack.wait_for(lambda: "Claimed by" in header(slack, parent), 10)
        clock.advance(11 * 60)
        slack.wait_for(lambda: bool(_reminders(slack, parent)), 10)
        assert _reminders(slack, parent)[0].startswith(f"<@{ADMIN}>")


def test_a_text_in_an_old_thread_is_also_shown_in_the_channel_once_per_wait(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, clock: FakeClock
) -> None:
    env = {**QUIET, "BUMP_AFTER_MINUTES": "60"}
    with inbox_bridge(tmp_path, slack, twilio_api, clock=clock, **env) as bridge:
        parent = bridge.thread()
        bridge.text("same hour")
        bridge.reply(parent, ADMIN, "Answered")
        bridge.wait_sent(1)
        clock.advance(2 * 60 * 60)
        bridge.text("two hours later")
        bridge.text("and again")
        slack.wait_for(lambda: slack.thread(CHANNEL, parent)[-1]["text"] == "and again", 10)
        broadcast = [
            p["text"] for p in slack.all_posts() if str(p.get("reply_broadcast")).lower() == "true"
        ]
        assert broadcast == ["two hours later"]


def test_a_waiting_reminder_is_not_reported_as_a_delivery_backlog(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> None:
    with inbox_bridge(tmp_path, slack, twilio_api, clock=None, **QUIET) as bridge:
        bridge.text("hello")
        wait_for_thread(slack, replies=1)
        with bridge.database() as session:
            timers = session.exec(select(DeliveryJob).where(DeliveryJob.lane == "timer")).all()
            assert [t.state for t in timers] == ["pending"]

        def queue() -> object:
            return httpx.get(f"{bridge.app.url}/healthz").json()["queue"]

        # The post's job is marked done just after the post: wait for that, not the timer.
        idle = {"pending": 0, "oldest_seconds": 0.0, "parked": 0}
        slack.wait_for(lambda: queue() == idle, 10)
