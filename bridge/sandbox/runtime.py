"""One sandbox run: the emulated world, the real bridge app wired to it, and starting over."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from bridge.app import create_app
from bridge.config import Settings
from bridge.contact_import import ContactRow, ImportReport
from bridge.sandbox.phone import SandboxTwilio
from bridge.sandbox.slack_side import SandboxSlack
from bridge.sandbox.world import BUSINESS, CHANNEL, World, new_world, sandbox_settings
from store.contact_bulk import apply_rows
from store.engine import make_engine
from store.intake import intake_file_of

log = logging.getLogger(__name__)

_CARRIER_SECONDS = 0.4


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
        # The intake file too: a webhook a previous run acked but did not apply is not replayed.
        for database in (self._database, intake_file_of(self._database)):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{database}{suffix}").unlink(missing_ok=True)
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
