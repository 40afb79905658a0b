"""The sandbox's ASGI app: the page, its API, both emulators, and the real bridge behind them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bridge.phones import parse_e164
from bridge.sandbox.mounting import serve_emulator
from bridge.sandbox.runtime import Sandbox
from bridge.sandbox.view import page_state
from bridge.sandbox.world import BUSINESS, CHANNEL, ROLES

STATIC = Path(__file__).parent / "static"
_SHOWN_DELIVERIES = 30


def sandbox_app(sandbox: Sandbox) -> Starlette:
    """The routes: `/sandbox` page and API, emulators, then the bridge for everything else."""

    async def page(_: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def state(_: Request) -> Response:
        world = sandbox.world
        return JSONResponse(
            page_state(
                world.slack,
                world.twilio,
                channel=CHANNEL,
                business=BUSINESS,
                names=sandbox.names,
            )
            | {"roles": {role: uid for role, (uid, _, _) in ROLES.items()}}
            | {"deliveries": list(world.deliveries)[-_SHOWN_DELIVERIES:]}
        )

    async def text(request: Request) -> Response:
        data = await _json(request)
        phone = parse_e164(str(data.get("phone", "")), "US")
        body = str(data.get("body", ""))
        if phone is None or not body.strip() or phone == BUSINESS:
            return JSONResponse({"error": "a phone number and a text, please"}, status_code=400)
        sandbox.name_contact(phone, str(data.get("name", "")).strip()[:80])
        status = await sandbox.phone.text(phone, body[:1600])
        return JSONResponse({"webhook_status": status, "phone": phone})

    async def reply(request: Request) -> Response:
        data = await _json(request)
        user = _user(data)
        text = str(data.get("text", ""))
        if user is None or not text.strip():
            return JSONResponse({"error": "a role and a text, please"}, status_code=400)
        status = await sandbox.slack.reply(user, str(data.get("thread_ts", "")), text)
        return JSONResponse({"events_status": status})

    async def click(request: Request) -> Response:
        data = await _json(request)
        user = _user(data)
        if user is None:
            return JSONResponse({"error": "a role, please"}, status_code=400)
        block = data.get("block")
        if not isinstance(block, int):
            return JSONResponse({"error": "which block, please"}, status_code=400)
        status = await sandbox.slack.click(
            user, str(data.get("ts", "")), str(data.get("action_id", "")), block
        )
        return JSONResponse({"events_status": status})

    async def home(request: Request) -> Response:
        user = _user(await _json(request))
        if user is None:
            return JSONResponse({"error": "a role, please"}, status_code=400)
        return JSONResponse({"events_status": await sandbox.slack.open_home(user)})

    async def reset(_: Request) -> Response:
        await sandbox.reset()
        return JSONResponse({"reset": True})

    async def command(request: Request) -> Response:
        data = await _json(request)
        user = _user(data)
        typed = str(data.get("text", "")).strip()
        if user is None or not typed.startswith("/"):
            return JSONResponse({"error": "a role and a /command, please"}, status_code=400)
        name, _, text = typed.partition(" ")
        return JSONResponse({"events_status": await sandbox.slack.command(user, name, text)})

    async def respond(request: Request) -> Response:
        user = str(request.path_params["user"])
        with contextlib.suppress(ValueError):
            sandbox.slack.show_privately(user, await request.json())
        return Response(status_code=200)

    async def slack_api(request: Request) -> Response:
        method = request.path_params["method"]
        return await serve_emulator(sandbox.world.slack, request, f"/api/{method}")

    async def twilio_api(request: Request) -> Response:
        return await serve_emulator(sandbox.world.twilio, request, request.url.path)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await sandbox.start()
        carrier = asyncio.create_task(sandbox.carrier())
        try:
            yield
        finally:
            carrier.cancel()
            await sandbox.stop()
            await sandbox.http.aclose()

    api = "/sandbox/api"
    routes = [
        Route("/", lambda _: RedirectResponse("/sandbox")),
        Route("/sandbox", page),
        Mount("/sandbox/static", StaticFiles(directory=STATIC)),
        Route(f"{api}/state", state),
        Route(f"{api}/text", text, methods=["POST"]),
        Route(f"{api}/reply", reply, methods=["POST"]),
        Route(f"{api}/click", click, methods=["POST"]),
        Route(f"{api}/home", home, methods=["POST"]),
        Route(f"{api}/reset", reset, methods=["POST"]),
        Route(f"{api}/command", command, methods=["POST"]),
        Route("/sandbox/slack/respond/{user}", respond, methods=["POST"]),
        Route("/sandbox/slack/api/{method:path}", slack_api, methods=["GET", "POST"]),
        Route("/2010-04-01/{path:path}", twilio_api, methods=["GET", "POST", "DELETE"]),
        Mount("/", app=sandbox.forward),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _user(data: dict[str, Any]) -> str | None:
    role = ROLES.get(str(data.get("role", "")))
    return role[0] if role else None
