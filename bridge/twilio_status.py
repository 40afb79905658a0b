"""`POST /twilio/status`: Twilio's delivery status callbacks for the replies we sent."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bridge.config import Settings
from bridge.reply_intake import sms_lane_key
from bridge.status_display import note_status
from bridge.twilio_webhook import TwilioRequestCheck
from bridge.unavailable import DATABASE_DOWN, database_down_response
from store import pace, replies
from store.engine import write_gate

log = logging.getLogger(__name__)

_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")
_STATUS = re.compile(r"[a-z]{3,20}")


# Twilio dropped a message because the sender's queue overflowed: send slower from it.
QUEUE_OVERFLOW = 30001
QUEUE_OVERFLOW_PAUSE_SECONDS = 60.0


class TwilioStatusWebhook:
    """Records each status Twilio reports (204); a message that is not ours is ignored (200)."""

    def __init__(
        self,
        *,
        settings: Settings,
        public_url: str,
        engine: Engine,
        now: Callable[[], datetime],
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self._check = TwilioRequestCheck(settings, public_url)
        self._engine = engine
        self._now = now
        self._on_stored = on_stored

    async def handle(self, request: Request) -> Response:
        """Verify, validate and record one callback."""
        params = await self._check.verified(request)
        if isinstance(params, Response):
            return params
        sid = params.get("MessageSid", "").strip()
        status = params.get("MessageStatus", "").strip().lower()
        if not _SID.fullmatch(sid) or not _STATUS.fullmatch(status):
            return PlainTextResponse("MessageSid or MessageStatus is missing or malformed", 400)
        code = params.get("ErrorCode", "").strip()
        error_code = int(code) if code.isdecimal() and len(code) < 7 else None
        try:
            known, to_show = await run_in_threadpool(self._record, sid, status, error_code)
        except DATABASE_DOWN as down:
            return database_down_response(down)
        if not known:
            log.debug("status callback for a message we did not send: ignored")
            return Response(status_code=200)
        if to_show:
            self._on_stored()
        return Response(status_code=204)

    def _record(self, sid: str, status: str, error_code: int | None) -> tuple[bool, bool]:
        """Whether the message is ours, and whether its Slack reaction must change."""
        with write_gate(self._engine), Session(self._engine) as session:
            at = self._now()
            known = replies.record_status(
                session, sid=sid, status=status, error_code=error_code, at=at
            )
            if known and error_code == QUEUE_OVERFLOW:
                self._back_off(session, sid)
            return known, known and note_status(session, sid=sid, at=at) is not None

    def _back_off(self, session: Session, sid: str) -> None:
        """Pause every process's sends from the overflowing number (its shared budget)."""
        sender = replies.sender_of(session, sid=sid)
        if sender is None:
            return
        until = time.time() + QUEUE_OVERFLOW_PAUSE_SECONDS
        pace.pause(session, key=sms_lane_key(sender), until=until)
        log.warning("Twilio's queue for a sending number overflowed (30001): sends paused 60 s")
