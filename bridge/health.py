"""`GET /healthz`: the database answers, and how much delivery is waiting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from store.jobs import queue_stats


def healthz(engine: Engine, now: Callable[[], datetime]) -> Callable[[Request], object]:
    """The endpoint: 200 with queue depth when the database answers, else 503."""

    def probe() -> dict[str, object]:
        with Session(engine) as session:
            session.execute(text("SELECT 1"))
            stats = queue_stats(session)
        oldest = (now() - stats.oldest).total_seconds() if stats.oldest else 0.0
        queue = {"pending": stats.pending, "oldest_seconds": oldest, "parked": stats.parked}
        return {"status": "ok", "queue": queue}

    async def endpoint(_request: Request) -> JSONResponse:
        try:
            body = await run_in_threadpool(probe)
        except SQLAlchemyError:
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse(body)

    return endpoint
