"""The sandbox's ASGI app: the page, its API, both emulators, and the real bridge behind them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from bridge.app import create_app
from bridge.config import Settings
from bridge.contact_import import ContactRow, ImportReport
from bridge.phones import parse_e164
from bridge.sandbox.mounting import serve_emulator
from bridge.sandbox.phone import SandboxTwilio
from bridge.sandbox.slack_side import SandboxSlack
from bridge.sandbox.view import page_state
from bridge.sandbox.world import BUSINESS, CHANNEL, ROLES, World, new_world, sandbox_settings
from store.contact_bulk import apply_rows
from store.engine import make_engine

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
_CARRIER_SECONDS = 0.4
_SHOWN_DELIVERIES = 30


class Sandbox:
    """One sandbox run: the world, the bridge app wired to it, and a reset that starts over."""

    def __init__(self, base: Settings, *, public_url: str, database: Path) -> None:
        self._base = base
        self.public_url = public_url.rstrip("/")
        self._database = database
        self._stack: contextlib.AsyncExitStack | None = None
        self._lock = asyncio.Lock()
        self._names: dict[str, str] = {}
        self.world: World = new_world()
        self.bridge: Starlette | None = None
        self.settings = self._settings()
        self.http = httpx.AsyncClient(timeout=15)

    def _settings(self) -> Settings:
        url = f"sqlite:///{self._database}"
        return sandbox_settings(
            self._base, self.world, public_url=self.public_url, database_url=url
        )

    @property
    def phone(self) -> SandboxTwilio:
        """Twilio's side, for the current world."""
        return SandboxTwilio(
            self.world.twilio,
            business=BUSINESS,
            public_url=self.public_url,
            http=self.http,
            journal=self.world.deliveries,
        )

    @property
    def slack(self) -> SandboxSlack:
        """Slack's side, for the current world."""
        return SandboxSlack(
            self.world.slack,
            channel=CHANNEL,
            signing_secret=self.world.signing_secret,
            public_url=self.public_url,
            http=self.http,
            journal=self.world.deliveries,
        )

    async def start(self) -> None:
        """Start the bridge on an empty database: the emulators' Slack and Twilio start empty."""
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self._database}{suffix}").unlink(missing_ok=True)
        self.bridge = create_app(self.settings, public_url=self.public_url)
        self._stack = contextlib.AsyncExitStack()
        await self._stack.enter_async_context(self.bridge.router.lifespan_context(self.bridge))

    async def stop(self) -> None:
        """Stop the bridge's worker and close its database."""
        if self._stack is not None:
            await self._stack.aclose()
            self._stack = None

    async def reset(self) -> None:
        """Start over: no messages, no contacts, a new database file and new secrets."""
        async with self._lock:
            await self.stop()
            self.world, self._names = new_world(), {}
            self.settings = self._settings()
            await self.start()
        log.info("sandbox reset")

    @property
    def names(self) -> dict[str, str]:
        """The names the phone gave, by number."""
        return dict(self._names)

    def name_contact(self, phone: str, name: str) -> None:
        """Give the phone's owner a name, the way `smsbridge contacts import` would."""
        if not name or self._names.get(phone) == name:
            return
        engine = make_engine(self.settings.database_url)
        try:
            row = ContactRow(line=1, phone=phone, name=name, consent=None, timezone=None)
            now = datetime.now(UTC)
            apply_rows(engine, [row], at=now, cause="sandbox phone", outcome=ImportReport())
        finally:
            engine.dispose()
        self._names[phone] = name

    async def carrier(self) -> None:
        """Move sent texts along with their status callbacks; tell the app of its own posts."""
        while True:
            await asyncio.sleep(_CARRIER_SECONDS)
            try:
                await self.phone.carrier_tick()
                await self.slack.echo_bot_posts(self.world.echoed)
            except Exception:  # the page must keep working whatever one tick met
                log.exception("sandbox carrier tick failed")

    async def forward(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Everything not the sandbox's own goes to the real bridge app."""
        if self.bridge is None:
            await Response("starting", status_code=503)(scope, receive, send)
            return
        await self.bridge(scope, receive, send)


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

    async def respond(_: Request) -> Response:
        return Response(status_code=200)  # Slack's response_url: the bridge does not use it

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
        Route("/sandbox/slack/respond", respond, methods=["POST"]),
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
