"""`POST /slack/events`: Bolt listeners that store thread replies before Slack's ack."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeGuard

from slack_bolt import Ack, App, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.request.internals import parse_body
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.blocks import CONSENT_HISTORY, MARK_UNSUBSCRIBED, history_text
from bot.event_intake import SLACK, apply_message, inbox_channels, thread_of
from bot.feedback import SlackFeedback
from bot.inbox_listeners import register as register_inbox
from bot.payload_shape import shape_problem
from bot.quiet_actions import QuietActions
from bridge.config import Settings
from bridge.consent_actions import consent_history, mark_unsubscribed
from bridge.http_body import BodyTooLarge, read_capped
from bridge.ids import ChannelId, SlackTs
from bridge.intake_writer import IntakeWriter
from bridge.ports import People
from bridge.reply_intake import Outcome
from bridge.unavailable import DATABASE_DOWN, database_down_response
from store.engine import write_gate
from store.intake import IntakeRow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
_QUEUED = frozenset({Outcome.QUEUED, Outcome.RECALL_NOTED})


class SlackEventsEndpoint:
    """The ASGI endpoint; `on_stored` wakes the delivery worker."""

    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        now: Callable[[], datetime],
        on_stored: Callable[[], None],
        people: People | None = None,
        intake: IntakeWriter | None = None,
    ) -> None:
        assert settings.slack_signing_secret is not None
        self._intake = intake
        self._settings = settings
        self._engine = engine
        self._now = now
        self._on_stored = on_stored
        self._verifier = SignatureVerifier(settings.slack_signing_secret)
        self._channels = inbox_channels(settings)
        assert settings.slack_bot_token is not None
        self.bolt = App(
            # Tokenless: the listeners only store; the token comes from `authorize`.
            client=WebClient(base_url=settings.slack_api_url),
            signing_secret=settings.slack_signing_secret,
            authorize=_fixed_token(settings.slack_bot_token),
            process_before_response=True,
            logger=logging.getLogger("slack_bolt"),
        )
        self.bolt.error(_database_down_is_503)
        self.bolt.event("message")(self._on_message)
        # Slack waits 3 s for the ack: what calls Slack back runs lazily, after it.
        self.bolt.action(CONSENT_HISTORY)(ack=_ack, lazy=[self._show_consent_history])
        self.bolt.action(MARK_UNSUBSCRIBED)(
            ack=self._mark_unsubscribed, lazy=[self._confirm_unsubscribed]
        )
        if people is not None:
            QuietActions(
                engine=engine,
                people=people,
                now=now,
                on_stored=on_stored,
            ).register(self.bolt)
        register_inbox(self.bolt, settings=settings, engine=engine, now=now, on_stored=on_stored)

    async def handle(self, request: Request) -> Response:
        """Verify, then let Bolt dispatch in a worker thread (the listeners touch the DB)."""
        try:
            body = await read_capped(request, MAX_BODY_BYTES)
        except BodyTooLarge:
            return PlainTextResponse("request body too large", status_code=413)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:  # Slack sends UTF-8; the verifier would fail on the rest
            return PlainTextResponse("expected a UTF-8 body", status_code=400)
        if not self._verifier.is_valid_request(text, dict(request.headers)):
            log.warning("refused a Slack request with a missing, wrong or stale signature")
            return PlainTextResponse("invalid signature", status_code=401)
        try:
            payload = parse_body(text, request.headers.get("content-type"))
            problem = shape_problem(payload)
        except ValueError:  # not JSON
            payload, problem = None, "not JSON or a form"
        if problem is not None:  # retrying will not fix it: answered, not dispatched
            log.debug("ignored a signed but malformed Slack request: %s", problem)
            return PlainTextResponse("", status_code=200)
        if self._intake is not None and _is_message_event(payload):
            return await self._take_message(payload)
        bolt_request = BoltRequest(
            body=text, query=request.url.query, headers=dict(request.headers)
        )
        response = await run_in_threadpool(self.bolt.dispatch, bolt_request)
        return to_starlette_response(response)

    async def _take_message(self, payload: dict[str, Any]) -> Response:
        """A message event: stored raw and acked; the intake processor applies it after.

        Events that cannot touch a contact's thread are acked without a write, as before."""
        order_key = thread_of(payload["event"], self._channels)
        if order_key is None:
            return PlainTextResponse("", status_code=200)
        assert self._intake is not None
        row = IntakeRow(
            key=f"{SLACK}:{payload['event_id']}",
            source=SLACK,
            order_key=order_key,
            payload=json.dumps(payload),
            received_at=self._now(),
        )
        try:
            await self._intake.store(row)
        except DATABASE_DOWN as down:
            return database_down_response(down)
        return PlainTextResponse("", status_code=200)

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


def _is_message_event(payload: Any) -> TypeGuard[dict[str, Any]]:
    """An Events API `message` event with its ID: the ones the fast path takes."""
    if not isinstance(payload, dict) or payload.get("type") != "event_callback":
        return False
    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 100:
        return False
    event = payload.get("event")
    return isinstance(event, dict) and event.get("type") == "message"


def _fixed_token(token: str) -> Callable[..., AuthorizeResult]:
    """Authorization with the one bot token we have.

    Bolt's default asks auth.test on the first event and, when Slack is unreachable, answers
    that event 200 with an error body: Slack would never retry it, and the reply would be lost.
    """

    def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

    return authorize
