"""The `/sms` slash command: inbox, find, stats and help, answered only to who asked."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_bolt import Ack, App
from sqlalchemy import Engine
from sqlmodel import Session

from bot.escape import escape
from bot.home import InboxLister
from bot.home_blocks import inbox_text, item_blocks
from bot.inbox_access import access_of
from bridge.config import Settings
from bridge.inbox_query import FindQuery, Refusal, parse_find, parse_period, summarize
from bridge.ports import People
from store import inbox

log = logging.getLogger(__name__)

COMMAND = "/sms"
HELP = (
    "*`/sms` — the SMS inbox*\n"
    "• `/sms inbox`: the latest conversations, newest first\n"
    "• `/sms find <number or name>`: a contact's thread, consent and local time\n"
    "• `/sms stats [7d]`: conversations, median first-response time, overdue now\n"
    "• `/sms help`: this list"
)
_FIND_LIMIT = 5


class SmsCommand:
    """Answers `/sms` in the ack itself: Slack shows the answer only to who asked."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        people: People,
        lister: InboxLister,
        now: Callable[[], datetime],
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._people = people
        self._lister = lister
        self._now = now

    def __call__(self, ack: Ack, command: dict[str, Any]) -> None:
        """Bolt's listener: decide and ack with the ephemeral answer."""
        user = str(command.get("user_id") or "")
        verb, _, rest = str(command.get("text") or "").strip().partition(" ")
        verb = verb.lower()
        if verb in ("", "help"):
            ack(response_type="ephemeral", text=HELP)
            return
        if verb == "stats":
            ack(response_type="ephemeral", text=self._stats(rest))
            return
        if verb not in ("inbox", "find"):
            ack(response_type="ephemeral", text=f"I do not know `{escape(verb[:20])}`.\n{HELP}")
            return
        access = access_of(self._people, user)
        if not access.allowed:
            ack(response_type="ephemeral", text=access.reason)
            return
        text, blocks = self._inbox() if verb == "inbox" else self._find(rest)
        ack(response_type="ephemeral", text=text, blocks=blocks or None)

    def _inbox(self) -> tuple[str, list[dict[str, Any]]]:
        now = self._now()
        items = self._lister.recent(now)
        title = {"type": "section", "text": {"type": "mrkdwn", "text": "*SMS inbox*"}}
        return inbox_text(items), [title, *item_blocks(items, now=now)]

    def _find(self, raw: str) -> tuple[str, list[dict[str, Any]]]:
        query = parse_find(raw, region=self._settings.default_region)
        if isinstance(query, Refusal):
            return escape(query.reason), []  # it quotes what was typed
        now = self._now()
        with Session(self._engine, expire_on_commit=False) as session:
            rows = inbox.find(session, phone=query.phone, name=query.name, limit=_FIND_LIMIT)
            items = self._lister.items(session, rows, now)
        if not items:
            return f"No conversation with {_described(query)}.", []
        return inbox_text(items), item_blocks(items, now=now)

    def _stats(self, raw: str) -> str:
        period = parse_period(raw)
        if isinstance(period, Refusal):
            return escape(period.reason)
        now = self._now()
        sla = timedelta(minutes=self._settings.response_sla_minutes)
        with Session(self._engine) as session:
            figures = inbox.stats(session, since=now - period, overdue_before=now - sla)
        summary = summarize(figures)
        median = summary.median_first_response
        shown = _duration(median) if median is not None else "no answers yet"
        return (
            f"*SMS inbox, last {_duration(period)}*\n"
            f"• Conversations started: {summary.conversations}\n"
            f"• Median first response: {shown} ({summary.answered} answered)\n"
            f"• Overdue now (waiting over {self._settings.response_sla_minutes} min): "
            f"{summary.overdue}"
        )


def _described(query: FindQuery) -> str:
    return escape(query.phone) if query.phone else f"a name containing “{escape(query.name or '')}”"


def _duration(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    if seconds >= 86400 and seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def register(app: App, *, sms: SmsCommand) -> None:
    """Listen to `/sms` (Bolt passes arguments by name: `ack`, `command`)."""

    def answer(ack: Ack, command: dict[str, Any]) -> None:
        sms(ack, command)

    app.command(COMMAND)(answer)
