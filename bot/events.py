"""`POST /slack/events`: thread messages stored before Slack's ack; the rest through Bolt.

The Bolt app (`bot.bolt_app`) is built on the first request that needs it, in a worker thread:
a process that gets only thread messages never carries Bolt and its listeners.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import parse_qsl

from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.event_intake import SLACK, inbox_channels, thread_of
from bot.payload_shape import shape_problem
from bridge.config import Settings
from bridge.http_body import BodyTooLarge, read_capped
from bridge.intake_writer import IntakeWriter
from bridge.ports import People
from bridge.unavailable import DATABASE_DOWN, database_down_response
from store.intake import IntakeRow

if TYPE_CHECKING:
    from slack_bolt import App, BoltResponse

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


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
        assert settings.slack_bot_token is not None
        self._intake = intake
        self._settings = settings
        self._engine = engine
        self._now = now
        self._on_stored = on_stored
        self._people = people
        self._verifier = SignatureVerifier(settings.slack_signing_secret)
        self._channels = inbox_channels(settings)
        self._bolt: App | None = None
        self._bolt_lock = threading.Lock()

    @property
    def bolt(self) -> App:
        """The Bolt app with its listeners, built on first use."""
        with self._bolt_lock:
            if self._bolt is None:
                from bot.bolt_app import build_bolt

                self._bolt = build_bolt(
                    settings=self._settings,
                    engine=self._engine,
                    now=self._now,
                    on_stored=self._on_stored,
                    channels=self._channels,
                    people=self._people,
                )
            return self._bolt

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
        headers: dict[str, str | Sequence[str]] = dict(request.headers)
        response = await run_in_threadpool(self._dispatch, text, request.url.query, headers)
        from slack_bolt.adapter.starlette.handler import to_starlette_response

        return to_starlette_response(response)

    def _dispatch(
        self, body: str, query: str, headers: dict[str, str | Sequence[str]]
    ) -> BoltResponse:
        from slack_bolt import BoltRequest

        return self.bolt.dispatch(BoltRequest(body=body, query=query, headers=headers))

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


def _is_message_event(payload: Any) -> TypeGuard[dict[str, Any]]:
    """An Events API `message` event with its ID: the ones the fast path takes."""
    if not isinstance(payload, dict) or payload.get("type") != "event_callback":
        return False
    event_id = payload.get("event_id")
    if not isinstance(event_id, str) or not 0 < len(event_id) <= 100:
        return False
    event = payload.get("event")
    return isinstance(event, dict) and event.get("type") == "message"


def parse_body(body: str, content_type: str | None) -> Any:
    """A request body as Bolt parses it (`slack_bolt.request.internals.parse_body`), without
    importing Bolt: JSON, a form with a JSON `payload` (interactivity), or a plain form."""
    if not body:
        return {}
    if content_type == "application/json" or body.startswith("{"):
        return json.loads(body)
    if "payload" in body:
        payload = dict(parse_qsl(body, keep_blank_values=True)).get("payload")
        return json.loads(payload) if payload is not None else {}
    return dict(parse_qsl(body, keep_blank_values=True))
