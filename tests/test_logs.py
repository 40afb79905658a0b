"""Logs as an operator reads them: JSON lines with request IDs, and a start-up line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bridge.logs import RequestIdMiddleware, configure_logging
from tests.conftest import BUSINESS, CHANNEL
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import AppServer, make_settings


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Logging configured as `smsbridge` does it, into a buffer (not a terminal)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging("INFO", stream, force=True)
    try:
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_lines_are_json_with_the_request_id(captured: io.StringIO) -> None:
    log = logging.getLogger("smsbridge.test")

    async def hello(_: Request) -> PlainTextResponse:
        log.info("handling it")
        return PlainTextResponse("hi")

    app = Starlette(routes=[Route("/", hello)], middleware=[Middleware(RequestIdMiddleware)])
    transport = httpx.ASGITransport(app=app)

    async def two_requests() -> tuple[httpx.Response, httpx.Response]:
        async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
            return await client.get("/"), await client.get("/", headers={"X-Request-ID": "lb-42"})

    first, second = asyncio.run(two_requests())
    log.info("outside a request")
    logged = lines(captured)
    assert [entry["message"] for entry in logged] == ["handling it"] * 2 + ["outside a request"]
    assert logged[0]["request_id"] == first.headers["x-request-id"]
    assert len(first.headers["x-request-id"]) == 16
    assert logged[1]["request_id"] == second.headers["x-request-id"] == "lb-42"
    assert "request_id" not in logged[2]
    assert logged[0]["level"] == "INFO" and logged[0]["logger"] == "smsbridge.test"


def test_start_up_says_which_workspace_channels_and_numbers(
    captured: io.StringIO, tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> None:
    settings = make_settings(
        tmp_path, slack, twilio_api, ROUTES="+15550002222=C0SECOND,+15550003333=C0INBOX"
    )
    server = AppServer(settings).start()
    try:
        slack.wait_for(lambda: "serving Slack workspace" in captured.getvalue(), timeout=10)
    finally:
        server.stop()
    [line] = [e["message"] for e in lines(captured) if "serving" in e["message"]]
    assert line.startswith("serving Slack workspace Example Workspace (T0001)")
    assert f"channels {CHANNEL}, C0SECOND;" in line
    assert "numbers +1********11, +1********22, +1********33" in line
    assert BUSINESS not in captured.getvalue() and "+15550002222" not in captured.getvalue()


def test_logging_someone_configured_is_left_alone() -> None:
    root = logging.getLogger()
    before = root.handlers[:]
    assert before, "pytest has its handlers on the root logger"
    configure_logging("DEBUG")
    assert root.handlers == before
    assert logging.getLogger("twilio.http_client").level == logging.WARNING
