"""Keeping open Home tabs current: republish, debounced, after the inbox changes."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session

from bot.home import HomePublisher, InboxLister
from bot.people import SlackPeople
from bot.poster import make_client
from bridge.background import BackgroundLoop
from bridge.config import Settings
from bridge.ports import ChatUnavailable, Clock
from store import inbox
from store.engine import write_gate

log = logging.getLogger(__name__)

# Slack sends no event when a Home tab is closed: one opened this recently counts as open.
OPEN_FOR = timedelta(minutes=30)


class HomeRefresher(BackgroundLoop):
    """A thread that looks for stale Home tabs every `poll` seconds.

    Each person's tab is published at most once per `debounce`, so a burst of texts costs
    one publish; the claim in the table lets several processes share the work.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        publisher: HomePublisher,
        clock: Clock,
        poll: float = 1.0,
        debounce: timedelta = timedelta(seconds=3),
    ) -> None:
        self._engine = engine
        self._publisher = publisher
        self._clock = clock
        self._poll = poll
        self._debounce = debounce
        super().__init__(name="home-refresh")

    def _loop(self) -> None:
        while not self._stop.wait(self._poll):
            try:
                self.refresh()
            except ChatUnavailable as failed:
                log.warning("Home tabs not refreshed: %s", failed.reason)
                self._stop.wait(failed.retry_after or self._poll)
            except Exception:
                log.exception("refreshing Home tabs failed; trying again shortly")

    def refresh(self) -> int:
        """Publish every stale open tab once; how many were published."""
        now = self._clock.now()
        with Session(self._engine) as session:
            stale = inbox.stale_viewers(
                session, open_since=now - OPEN_FOR, before=now - self._debounce
            )
            # Read before the claims commit (and expire the rows).
            seen = [(viewer.user_id, viewer.published_at) for viewer in stale]
            published = 0
            for user_id, published_at in seen:
                with write_gate(self._engine):
                    taken = inbox.take_viewer(session, user_id=user_id, seen=published_at, at=now)
                if not taken:
                    continue
                try:
                    self._publisher.publish(user_id, now)
                except ChatUnavailable:
                    # Not shown: stale again, so the next round tries once more.
                    with write_gate(self._engine):
                        inbox.release_viewer(
                            session, user_id=user_id, taken_at=now, previous=published_at
                        )
                    raise
                published += 1
        return published


def home_refresher(settings: Settings, *, engine: Engine, clock: Clock) -> HomeRefresher:
    """A refresher with its own Slack client, for the process that runs the worker."""
    assert settings.slack_bot_token is not None
    client = make_client(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    people = SlackPeople(
        client, managers=settings.slack_managers, manager_group=settings.slack_manager_group
    )
    lister = InboxLister(client=client, engine=engine, settings=settings)
    publisher = HomePublisher(client=client, lister=lister, people=people)
    return HomeRefresher(engine=engine, publisher=publisher, clock=clock)
