"""Serving an emulator (written against http.server) from inside the sandbox's ASGI app."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bridge.sandbox.emulators._server import EmulatorServer, parse_form
from bridge.sandbox.emulators._server import Request as EmulatorRequest


async def serve_emulator(emulator: EmulatorServer, request: Request, path: str) -> Response:
    """Hand the request to the emulator as its own HTTP server would, and relay the answer."""
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    parsed = EmulatorRequest(request.method, path, parse_form(request.url.query), headers, body)
    # Emulators take a lock and may sleep (latency faults): keep them off the event loop.
    answer = await run_in_threadpool(emulator.handle, parsed)
    if answer.status == 0:
        return Response(status_code=502)
    return Response(answer.body, status_code=answer.status, headers=answer.headers)
