"""`GET /media/{token}`: the files of agents' replies, for Twilio to fetch as MMS media."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bridge.media_tokens import servable
from bridge.unavailable import DATABASE_DOWN, database_down_response


class MediaEndpoint:
    """Serves a file while its token is valid; everything else is a bare 404."""

    def __init__(self, *, engine: Engine, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._now = now

    async def handle(self, request: Request) -> Response:
        """The file with its content type, or 404 with no detail."""
        token = str(request.path_params.get("token", ""))
        try:
            found = await run_in_threadpool(self._load, token)
        except DATABASE_DOWN as down:
            return database_down_response(down)
        if found is None:
            return Response(status_code=404)
        content, content_type, filename = found
        headers = {
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            # Twilio shows the recipient this name (short, no spaces, as its docs ask).
            "Content-Disposition": f'inline; filename="{filename}"',
        }
        return Response(content, media_type=content_type, headers=headers)

    def _load(self, token: str) -> tuple[bytes, str, str] | None:
        with Session(self._engine) as session:
            item = servable(session, token=token, now=self._now())
            if item is None or item.content is None:
                return None
            name = _safe_name(item.filename or "file", item.position)
            return item.content, item.content_type or "application/octet-stream", name


def _safe_name(name: str, position: int) -> str:
    stem, dot, ext = name.rpartition(".")
    keep = "".join(c for c in (stem or ext) if c.isalnum() or c in "-_")[:16] or f"file{position}"
    ext = "".join(c for c in ext if c.isalnum())[:4] if dot else ""
    return f"{keep}.{ext}" if ext else keep
