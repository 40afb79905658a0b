"""The Bolt app behind `POST /slack/events`: its listeners, built on the first request that
needs them.

Thread messages, the bulk of Slack's requests, are stored by the endpoint without Bolt
(`bot.events`); buttons, modals, slash commands and the Home tab go through this app. Bolt and
the inbox's listeners weigh about 4 MiB, which a process that never gets such a request is
spared.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import Session

from bot.blocks import CONSENT_HISTORY, MARK_UNSUBSCRIBED, history_text
from bot.event_intake import apply_message
from bot.feedback import SlackFeedback
from bot.inbox_listeners import register as register_inbox
from bot.quiet_actions import QuietActions
from bridge.config import Settings
from bridge.consent_actions import consent_history, mark_unsubscribed
from bridge.ids import ChannelId, SlackTs
from bridge.ports import People
from bridge.reply_intake import Outcome
from bridge.unavailable import DATABASE_DOWN, database_down_response
from store.engine import write_gate

log = logging.getLogger("bot.events")

_QUEUED = frozenset({Outcome.QUEUED, Outcome.RECALL_NOTED})


def build_bolt(
    *,
    settings: Settings,
    engine: Engine,
    now: Callable[[], datetime],
    on_stored: Callable[[], None],
    channels: frozenset[str],
    people: People | None,
) -> App:
    """The app with every listener registered; `on_stored` wakes the delivery worker."""
    assert settings.slack_signing_secret is not None
    assert settings.slack_bot_token is not None
    bolt = App(
        # Tokenless: the listeners only store; the token comes from `authorize`.
        client=WebClient(base_url=settings.slack_api_url),
        signing_secret=settings.slack_signing_secret,
        authorize=_fixed_token(settings.slack_bot_token),
        process_before_response=True,
        logger=logging.getLogger("slack_bolt"),
    )
    listeners = _Listeners(
        settings=settings, engine=engine, now=now, on_stored=on_stored, channels=channels
    )
    bolt.error(_database_down_is_503)
    bolt.event("message")(listeners._on_message)
    # Slack waits 3 s for the ack: what calls Slack back runs lazily, after it.
    bolt.action(CONSENT_HISTORY)(ack=_ack, lazy=[listeners._show_consent_history])
    bolt.action(MARK_UNSUBSCRIBED)(
        ack=listeners._mark_unsubscribed, lazy=[listeners._confirm_unsubscribed]
    )
    if people is not None:
        QuietActions(
            engine=engine,
            people=people,
            now=now,
            on_stored=on_stored,
        ).register(bolt)
    register_inbox(bolt, settings=settings, engine=engine, now=now, on_stored=on_stored)
    return bolt


class _Listeners:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        now: Callable[[], datetime],
        on_stored: Callable[[], None],
        channels: frozenset[str],
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._now = now
        self._on_stored = on_stored
        self._channels = channels

    def _on_message(self, event: dict[str, Any]) -> None:
        """A message event Bolt dispatched (one the fast path did not take): applied at once."""
        with write_gate(self._engine), Session(self._engine) as session:
            outcome = apply_message(
                session,
                settings=self._settings,
                channels=self._channels,
                event=event,
                at=self._now(),
            )
        log.debug("thread message: %s", outcome.value)
        if outcome in _QUEUED:
            self._on_stored()

    def _show_consent_history(self, body: dict[str, Any], client: WebClient) -> None:
        where = _clicked(body)
        if where is None or not where.value.isdecimal():
            return
        with Session(self._engine) as session:
            name, lines = consent_history(session, contact_id=int(where.value))
        text = history_text(name, lines)
        SlackFeedback(client).tell(where.channel, where.user, where.thread_ts, text, markup=True)

    def _mark_unsubscribed(self, ack: Ack, body: dict[str, Any]) -> None:
        """Recorded before the ack, like a reply: a click Slack saw answered is never lost."""
        where = _clicked(body)
        if where is not None and where.value.isdecimal():
            with write_gate(self._engine), Session(self._engine) as session:
                contact = mark_unsubscribed(
                    session, message_id=int(where.value), actor=where.user, at=self._now()
                )
            if contact is not None:
                self._on_stored()
        ack()

    def _confirm_unsubscribed(self, body: dict[str, Any], client: WebClient) -> None:
        where = _clicked(body)
        if where is None:
            return
        SlackFeedback(client).tell(
            where.channel,
            where.user,
            where.thread_ts,
            "Marked unsubscribed: nothing more will be texted to them until they text START.",
        )


@dataclass(frozen=True)
class _Click:
    channel: ChannelId
    user: str
    thread_ts: SlackTs
    value: str


def _clicked(body: dict[str, Any]) -> _Click | None:
    """Where a button was clicked, by whom, and its value; None for a malformed payload."""
    try:
        action = body["actions"][0]
        container = body.get("container") or {}
        message = body.get("message") or {}
        # A click in a thread is answered there; one on a channel message, in the channel.
        thread_ts = message.get("thread_ts") or container.get("thread_ts") or ""
        return _Click(
            ChannelId(str(body["channel"]["id"])),
            str(body["user"]["id"]),
            SlackTs(str(thread_ts)),
            str(action.get("value") or ""),
        )
    except (KeyError, IndexError, TypeError, AttributeError):
        log.debug("ignored a malformed button click")
        return None


def _ack(ack: Ack) -> None:
    ack()


def _database_down_is_503(error: Exception) -> BoltResponse | None:
    """A reply we could not store is refused with 503, so Slack retries it (never a 200)."""
    if isinstance(error, DATABASE_DOWN):
        answer = database_down_response(error)
        headers: dict[str, str | Sequence[str]] = dict(answer.headers)
        return BoltResponse(status=503, body=bytes(answer.body).decode(), headers=headers)
    log.error("a Slack listener failed: %s", type(error).__name__)
    return None


def _fixed_token(token: str) -> Callable[..., AuthorizeResult]:
    """Authorization with the one bot token we have.

    Bolt's default asks auth.test on the first event and, when Slack is unreachable, answers
    that event 200 with an error body: Slack would never retry it, and the reply would be lost.
    """

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    return authorize
