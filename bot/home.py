"""The App Home tab: the inbox list, published on `app_home_opened` and after changes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import Session

from bot.home_blocks import home_view
from bot.inbox_access import READ_ONLY, access_of
from bot.slack_api import call
from bridge.config import Settings
from bridge.inbox_view import InboxItem, item_of
from bridge.pacing import TokenBucket
from bridge.ports import ChatUnavailable, People
from store import inbox
from store.engine import write_gate
from store.models import HomeViewer

if TYPE_CHECKING:
    # Only named in annotations: Bolt is imported when the app is built (bot.bolt_app).
    from slack_bolt import Ack, App

log = logging.getLogger(__name__)

# views.publish is Slack's Tier 4: 100+ a minute per workspace.
PUBLISH_RATE, PUBLISH_BURST = 100 / 60, 10


class InboxLister:
    """The inbox rows for a list, with thread links from chat.getPermalink (cached)."""

    def __init__(self, *, client: WebClient, engine: Engine, settings: Settings) -> None:
        self._client = client
        self._engine = engine
        self._settings = settings

    def items(self, session: Session, rows: list[inbox.InboxRow], now: datetime) -> list[InboxItem]:
        """Rows as items; a thread without a cached link gets one now (best effort)."""
        items = []
        for row in rows:
            conversation = row.conversation
            if row.entry.permalink is None and conversation.parent_ts:
                link = self._permalink(conversation.channel, conversation.parent_ts)
                if link:
                    row.entry.permalink = link
                    with write_gate(self._engine):
                        inbox.save_permalink(
                            session, conversation_id=row.entry.conversation_id, link=link
                        )
                        session.commit()
            items.append(item_of(row, settings=self._settings, now=now))
        return items

    def recent(self, now: datetime) -> list[InboxItem]:
        """The INBOX_SIZE most recent conversations."""
        with Session(self._engine, expire_on_commit=False) as session:
            rows = inbox.recent(session, limit=self._settings.inbox_size)
            return self.items(session, rows, now)

    def _permalink(self, channel: str, ts: str) -> str | None:
        try:
            data = call(self._client, "chat_getPermalink", channel=channel, message_ts=ts)
        except ChatUnavailable as failed:
            log.info("no link for an inbox thread: %s", failed.reason)
            return None
        link = data.get("permalink")
        return link if isinstance(link, str) and link.startswith("https://") else None


class HomePublisher:
    """Publishes the Home tab for one person (views.publish), paced for Slack's limit."""

    def __init__(self, *, client: WebClient, lister: InboxLister, people: People) -> None:
        self._client = client
        self._lister = lister
        self._people = people
        self._bucket = TokenBucket(rate=PUBLISH_RATE, burst=PUBLISH_BURST)

    def publish(self, user_id: str, now: datetime) -> None:
        """Build and publish; raises ChatUnavailable when Slack did not take it."""
        access = access_of(self._people, user_id)
        view = home_view(
            self._lister.recent(now), now=now, read_only=None if access.allowed else READ_ONLY
        )
        self._bucket.acquire()
        call(self._client, "views_publish", user_id=user_id, view=view)


def register(
    app: App, *, engine: Engine, publisher: HomePublisher, now: Callable[[], datetime]
) -> None:
    """Listen to `app_home_opened`: note who looks, then publish for them after the ack."""

    def opened(ack: Ack, event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab") == "home" and isinstance(user, str) and user:
            with write_gate(engine), Session(engine) as session:
                inbox.opened_home(session, user_id=user, at=now())
                session.commit()
        ack()

    def publish(event: dict[str, Any]) -> None:
        user = event.get("user")
        if event.get("tab") != "home" or not isinstance(user, str) or not user:
            return
        at = now()
        with write_gate(engine), Session(engine) as session:
            viewer = session.get(HomeViewer, user)
            if viewer is not None:
                inbox.take_viewer(session, user_id=user, seen=viewer.published_at, at=at)
        try:
            publisher.publish(user, at)
        except ChatUnavailable as failed:
            log.warning("could not publish the Home tab: %s", failed.reason)

    app.event("app_home_opened")(ack=opened, lazy=[publish])
