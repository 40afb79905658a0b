"""When the database is away: webhooks answer 503 (the sender retries or falls back), never a
200 for something we did not store, and never a bare 500."""

from __future__ import annotations

import logging

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.responses import PlainTextResponse

log = logging.getLogger(__name__)

# Connection refused or dropped, server shutting down, pool exhausted, SQLite locked too long.
DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)
RETRY_AFTER_SECONDS = 5


def database_down_response(error: BaseException) -> PlainTextResponse:
    """503 with Retry-After; the error's class is logged, its text may hold the URL: not."""
    log.error("database unavailable (%s): answered 503", type(error).__name__)
    return PlainTextResponse(
        "database unavailable, please retry",
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )
