"""A running smsbridge wired to both emulators, as the end-to-end tests drive it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bridge.ports import Clock
from store.engine import make_engine
from store.models import ReplyAudit
from tests.conftest import CHANNEL, SIGNING_SECRET
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import AppServer, Twilio, make_settings, wait_for_thread
from tests.slack_events import SlackEvents

ALICE = "+14155550100"
ADMIN, OWNER, MEMBER, GUEST, MANAGER, GROUPIE = (
    "UADMIN",
    "UOWNER",
    "UMEMBER",
    "UGUEST",
    "UMANAGER",
    "UGROUPIE",
)
MANAGER_GROUP = "S0MANAGERS"


class Bridge:
    """The running app with both emulators, a customer's phone and Slack's events."""

    def __init__(
        self,
        app: AppServer,
        slack: SlackEmulator,
        twilio_api: TwilioEmulator,
        database_url: str,
    ) -> None:
        self.app = app
        self.slack = slack
        self.twilio_api = twilio_api
        self.database_url = database_url
        self.phone = Twilio(base_url=app.url, public_url=app.url)
        self.events = SlackEvents(base_url=app.url, signing_secret=SIGNING_SECRET)
        self._sids = 0

    def text(self, body: str, sender: str = ALICE, **extra: str) -> None:
        """The customer texts the business."""
        self._sids += 1
        assert self.phone.text(self._sids, body, sender, **extra).status_code == 200

    def thread(self, *, subscribed: bool = True) -> str:
        """A customer texts in (and opts in unless told not to); returns the thread's ts."""
        self.text("Hi, is my order on its way?")
        replies = 1
        if subscribed:
            self.text("START")
            replies = 2
        [parent] = wait_for_thread(self.slack, replies=replies)
        return str(parent["ts"])

    def reply(self, thread_ts: str, user: str, text: str, **fields: Any) -> str:
        """An agent writes in the thread; Slack acks within its 3 s."""
        ts, answer = self.events.reply(self.slack, CHANNEL, thread_ts, user, text, **fields)
        assert answer.status_code == 200
        return ts

    def sent_bodies(self) -> list[str]:
        return [str(m["body"]) for m in self.twilio_api.sent]

    def wait_sent(self, count: int) -> list[dict[str, Any]]:
        self.slack.wait_for(lambda: len(self.twilio_api.sent) >= count, timeout=10)
        return self.twilio_api.sent

    def wait_reaction(self, ts: str, name: str) -> None:
        self.slack.wait_for(lambda: name in self.slack.reactions(CHANNEL, ts), timeout=10)

    @contextlib.contextmanager
    def database(self) -> Iterator[Session]:
        """A session on the app's database, to look at what it stored."""
        engine: Engine = make_engine(self.database_url)
        try:
            with Session(engine) as session:
                yield session
        finally:
            engine.dispose()

    def audit(self) -> list[ReplyAudit]:
        with self.database() as session:
            return list(session.exec(select(ReplyAudit).order_by(col(ReplyAudit.id))))


@contextlib.contextmanager
def bridges(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, **defaults: str
) -> Iterator[Callable[..., Bridge]]:
    """Boot apps (each call may add settings over `defaults`); all stop at the end."""
    servers: list[AppServer] = []
    slack.add_user(ADMIN, "ann", is_admin=True)
    slack.add_user(OWNER, "olga", is_owner=True)
    slack.add_user(MEMBER, "mo")
    slack.add_user(GUEST, "gus", is_restricted=True)
    slack.add_user(MANAGER, "maria", display_name="Maria")
    slack.add_user(GROUPIE, "gina")
    slack.usergroups[MANAGER_GROUP] = [GROUPIE]

    def boot(clock: Clock | None = None, **env: str) -> Bridge:
        settings = make_settings(tmp_path, slack, twilio_api, **{**defaults, **env})
        server = AppServer(settings, clock=clock).start()
        servers.append(server)
        return Bridge(server, slack, twilio_api, settings.database_url)

    try:
        yield boot
    finally:
        for server in servers:
            server.stop()
