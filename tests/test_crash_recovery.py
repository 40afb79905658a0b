"""`kill -9` mid-delivery: after a restart on the same database, each text is in Slack once."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    CHANNEL,
    SIGNING_SECRET,
    base_env,
    postgres_database,
)
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import Twilio, texts_in, wait_for_thread
from tests.slack_events import SlackEvents

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Process:
    """`python -m bridge serve` as a real process, as an operator runs it."""

    def __init__(
        self, tmp_path: Path, slack: SlackEmulator, twilio_url: str, database_url: str = ""
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            **base_env(
                SLACK_API_URL=slack.url,
                DATABASE_URL=database_url or f"sqlite:///{tmp_path / 'bridge.db'}",
                PUBLIC_URL=self.url,
                TWILIO_API_URL=twilio_url,
                LOG_LEVEL="WARNING",
                AUTORESPOND="off",
                OPT_IN_TEXT="",
            ),
        }
        self.cwd = tmp_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "bridge", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(command, env=self.env, cwd=self.cwd)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("smsbridge did not start")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)


@pytest.fixture(params=["sqlite", "postgresql"])
def process(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    slack: SlackEmulator,
    twilio_api: TwilioEmulator,
) -> Iterator[Process]:
    if request.param == "sqlite":
        process = Process(tmp_path, slack, twilio_api.url)
        yield process
        process.terminate()
        return
    with postgres_database() as url:
        process = Process(tmp_path, slack, twilio_api.url, url)
        yield process
        process.terminate()


@pytest.mark.parametrize("hang_on", [1, 2], ids=["while-posting-header", "while-posting-text"])
def test_kill_9_while_slack_is_answering(
    process: Process, slack: SlackEmulator, hang_on: int
) -> None:
    if hang_on == 2:
        slack.latency("chat.postMessage", 0)
    # Slack takes the post, then the answer hangs: the process dies not knowing.
    slack.latency("chat.postMessage", 60, effect_first=True)
    process.start()
    twilio = Twilio(process.url, process.url)
    assert twilio.text(1, "my parcel arrived damaged").status_code == 200
    slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) == hang_on, timeout=10)
    process.kill9()

    process.start()
    [parent] = wait_for_thread(slack, replies=1)
    assert twilio.text(2, "hello?").status_code == 200
    wait_for_thread(slack, replies=2)
    assert len(slack.top_level(CHANNEL)) == 1
    assert texts_in(slack, parent["ts"]) == ["my parcel arrived damaged", "hello?"]


def test_kill_9_right_after_the_webhook_answered(process: Process, slack: SlackEmulator) -> None:
    slack.down = True
    process.start()
    twilio = Twilio(process.url, process.url)
    for n in range(1, 6):
        assert twilio.text(n, f"text {n}").status_code == 200
    process.kill9()
    slack.down = False
    process.start()
    [parent] = wait_for_thread(slack, replies=5)
    assert texts_in(slack, parent["ts"]) == [f"text {n}" for n in range(1, 6)]


def _subscribed_thread(process: Process, slack: SlackEmulator) -> str:
    slack.add_user("UADMIN", "ann", is_admin=True)
    twilio = Twilio(process.url, process.url)
    assert twilio.text(1, "is my order coming?").status_code == 200
    assert twilio.text(2, "START").status_code == 200
    [parent] = wait_for_thread(slack, replies=2)
    return str(parent["ts"])


def test_kill_9_while_twilio_is_answering_a_reply(
    process: Process, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> None:
    process.start()
    thread = _subscribed_thread(process, slack)
    # Twilio takes the message, then its answer hangs: the process dies not knowing.
    twilio_api.latency("messages.create", 60, effect_first=True)
    events = SlackEvents(process.url, SIGNING_SECRET)
    ts, answer = events.reply(slack, CHANNEL, thread, "UADMIN", "It ships today")
    assert answer.status_code == 200
    slack.wait_for(lambda: len(twilio_api.sent) == 1, timeout=10)
    process.kill9()

    process.start()
    slack.wait_for(lambda: "incoming_envelope" in slack.reactions(CHANNEL, ts), timeout=15)
    _, answer = events.reply(slack, CHANNEL, thread, "UADMIN", "Tracking to follow")
    slack.wait_for(lambda: len(twilio_api.sent) == 2, timeout=10)
    assert [m["body"] for m in twilio_api.sent] == ["It ships today", "Tracking to follow"]


def test_kill_9_right_after_slack_was_acked(
    process: Process, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> None:
    process.start()
    thread = _subscribed_thread(process, slack)
    twilio_api.down = True
    events = SlackEvents(process.url, SIGNING_SECRET)
    for n in range(3):
        _, answer = events.reply(slack, CHANNEL, thread, "UADMIN", f"reply {n}")
        assert answer.status_code == 200
    process.kill9()
    twilio_api.down = False
    process.start()
    slack.wait_for(lambda: len(twilio_api.sent) >= 3, timeout=30)
    time.sleep(0.5)
    assert [m["body"] for m in twilio_api.sent] == [f"reply {n}" for n in range(3)]
