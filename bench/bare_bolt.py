"""The reference for the Slack ack benchmark: stock slack_bolt with a no-op `message` listener.

Served as Bolt's docs show it (Starlette + `SlackRequestHandler` under uvicorn); Bolt verifies
the signature and acks, nothing is stored. Reads SLACK_SIGNING_SECRET and SLACK_API_URL (a local
Slack emulator, so no Web API call can leave 127.0.0.1).
"""

from __future__ import annotations

import os
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.starlette import SlackRequestHandler
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

BOT_TOKEN = "xoxb-test"


def _authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
    """The token is known: no `auth.test` on the first event (as in smsbridge)."""
    return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=BOT_TOKEN)


bolt = App(
    client=WebClient(base_url=os.environ["SLACK_API_URL"]),
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    authorize=_authorize,
    token_verification_enabled=False,
    process_before_response=True,
)


@bolt.event("message")
def _on_message(event: dict[str, Any]) -> None:
    """Ignore it: Bolt acks message events by itself."""


_handler = SlackRequestHandler(bolt)


async def events(request: Request) -> Response:
    """Bolt's own Starlette adapter: verify, dispatch, ack."""
    return await _handler.handle(request)


async def healthz(_request: Request) -> Response:
    """Ready."""
    return PlainTextResponse("ok")


app = Starlette(
    routes=[
        Route("/slack/events", events, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)
