"""Booting the real ASGI app on 127.0.0.1 and sending it webhooks signed as Twilio signs them."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine, func
from sqlalchemy.engine import make_url
from sqlmodel import Session, col, select
from twilio.request_validator import RequestValidator

from bridge.app import create_app
from bridge.config import Settings, load_settings
from bridge.ports import Clock
from bridge.worker import DeliveryWorker
from store import jobs
from store.models import DeliveryJob
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUSINESS,
    CHANNEL,
    FakeClock,
    base_env,
    migrated_sqlite_template,
)
from tests.emulators import SlackEmulator, TwilioEmulator


class AppServer:
    """The real app served by uvicorn in a thread, on a port the OS picks."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        start_from_template(settings.database_url)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        public_url = settings.public_url or self.url
        self.app = create_app(settings, public_url=public_url, clock=clock)
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def start(self) -> AppServer:
        """Start serving and wait until the app answers."""
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the app did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Shut down as on SIGTERM: the worker finishes its job, then the server exits."""
        self._server.should_exit = True
        self._thread.join(15)
        self._sock.close()


def start_from_template(database_url: str) -> None:
    """A SQLite file that does not exist yet starts as a copy of the migrated template.

    Migrating from scratch costs each boot a quarter of a second of CPU; the app still runs
    its migration at start-up, and finds the schema at head. Other databases are left alone.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    path = Path(url.database)
    if not path.exists():
        shutil.copyfile(migrated_sqlite_template(), path)


@dataclass(frozen=True)
class Twilio:
    """Sends inbound-SMS webhooks the way Twilio does, signed against the public URL."""

    base_url: str
    public_url: str
    auth_token: str = AUTH_TOKEN

    def params(self, n: int, body: str, sender: str, **extra: str) -> dict[str, str]:
        """The parameters Twilio posts for an inbound SMS."""
        params = {
            "MessageSid": f"SM{n:032x}",
            "SmsSid": f"SM{n:032x}",
            "AccountSid": ACCOUNT_SID,
            "MessagingServiceSid": "",
            "From": sender,
            "To": BUSINESS,
            "Body": body,
            "NumMedia": "0",
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": "2010-04-01",
        }
        params.update(extra)
        return params

    def signature(self, params: Mapping[str, str], path: str = "/twilio/sms") -> str:
        """X-Twilio-Signature for these parameters."""
        validator = RequestValidator(self.auth_token)
        return str(validator.compute_signature(self.public_url + path, dict(params)))

    def send(
        self,
        params: Mapping[str, str],
        *,
        signature: str | None = None,
        path: str = "/twilio/sms",
        **kwargs: Any,
    ) -> httpx.Response:
        """POST the webhook, signed unless a signature is given."""
        if signature is None:
            signature = self.signature(params, path)
        headers = {"X-Twilio-Signature": signature}
        headers.update(kwargs.pop("headers", {}))
        return httpx.post(f"{self.base_url}{path}", data=dict(params), headers=headers, **kwargs)

    def text(self, n: int, body: str, sender: str = "+14155550100", **extra: str) -> httpx.Response:
        """Send inbound text number `n` and return the answer."""
        return self.send(self.params(n, body, sender, **extra))


def make_settings(
    tmp_path: Path, slack: SlackEmulator, twilio: TwilioEmulator | None = None, **extra: str
) -> Settings:
    """Settings for an app that talks to the emulators (Twilio: a closed port unless given)."""
    env = base_env(
        SLACK_API_URL=slack.url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'bridge.db'}",
        TWILIO_API_URL=twilio.url if twilio else "http://127.0.0.1:9",
    )
    env.update(extra)
    return load_settings(env, env_file=None)


def texts_in(slack: SlackEmulator, parent_ts: str) -> list[str]:
    return [m["text"] for m in slack.thread(CHANNEL, parent_ts)]


def wait_for_thread(slack: SlackEmulator, replies: int, parents: int = 1) -> list[dict[str, Any]]:
    def done() -> bool:
        top = slack.top_level(CHANNEL)
        return (
            len(top) == parents and sum(len(slack.thread(CHANNEL, m["ts"])) for m in top) >= replies
        )

    slack.wait_for(done, timeout=10)
    return list(slack.top_level(CHANNEL))


def run_worker_until_idle(worker: DeliveryWorker, engine: Engine, clock: FakeClock) -> None:
    """Run the worker's jobs in this thread until none is left, the clock jumping to each
    job that is due later (a retry, the next minute)."""
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
