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

from bridge.backlog import estimates
from store.jobs import queue_stats


def healthz(
    engine: Engine, now: Callable[[], datetime], *, post_rate: float = 1.0
) -> Callable[[Request], object]:
    """The endpoint: 200 with queue depth when the database answers, else 503.

    `backlog` lists the channels with posts waiting (deepest first): how many, since when,
    and when they clear at `post_rate` (Slack's budget per channel).
    """

    def probe() -> dict[str, object]:
        at = now()
        with Session(engine) as session:
            session.execute(text("SELECT 1"))
            stats = queue_stats(session)
            channels = estimates(session, now=at, rate=post_rate)
        oldest = (at - stats.oldest).total_seconds() if stats.oldest else 0.0
        queue = {"pending": stats.pending, "oldest_seconds": oldest, "parked": stats.parked}
        clears = max((c.clears_in_seconds for c in channels), default=0.0)
        backlog = {"clears_in_seconds": clears, "channels": [c.as_json() for c in channels]}
        return {"status": "ok", "queue": queue, "backlog": backlog}

    async def endpoint(_request: Request) -> JSONResponse:
        try:
            body = await run_in_threadpool(probe)
        except SQLAlchemyError:
            return JSONResponse({"status": "database unavailable"}, status_code=503)
        return JSONResponse(body)

    return endpoint
