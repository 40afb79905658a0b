"""The reference for the inbound benchmarks: check Twilio's signature, parse the form, insert
one row with SQLAlchemy into SQLite (WAL), answer empty TwiML.

Written as a careful bare endpoint would be: the insert runs in Starlette's thread pool, and
one lock serialises this process's writers (SQLite allows one at a time; without the lock the
threads meet in SQLite's busy handler and sleep). Reads TWILIO_AUTH_TOKEN, PUBLIC_URL and
BARE_DATABASE_URL (a SQLite file of its own).

BARE_ALSO_IMPORT (comma-separated modules, imported and otherwise unused) makes the memory
bench's floor: this endpoint carrying the libraries the contract names for the service.
"""

from __future__ import annotations

import importlib
import os
import threading
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text
from sqlalchemy.dialects import sqlite
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from store.engine import make_engine

# Its own copies, not smsbridge's: importing the bridge would make the reference as heavy.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


class Params(dict[str, str]):
    """Form parameters with `getall`, as Twilio's validator expects."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self._all: dict[str, list[str]] = {}
        for key, value in pairs:
            self._all.setdefault(key, []).append(value)
            self.setdefault(key, value)

    def getall(self, key: str) -> list[str]:
        """Every value given for `key`."""
        return self._all.get(key, [])


for _module in filter(None, os.environ.get("BARE_ALSO_IMPORT", "").split(",")):
    importlib.import_module(_module.strip())
_validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
_public_url = os.environ["PUBLIC_URL"]
_engine = make_engine(os.environ["BARE_DATABASE_URL"])
_metadata = MetaData()
_texts = Table(
    "text",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("sid", String(34), nullable=False, unique=True),
    Column("sender", String(32), nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
_metadata.create_all(_engine)
_write_lock = threading.Lock()


def _insert(params: Params) -> None:
    row = {
        "sid": params.get("MessageSid", ""),
        "sender": params.get("From", ""),
        "body": params.get("Body", ""),
        "received_at": datetime.now(UTC),
    }
    with _write_lock, _engine.begin() as connection:
        connection.execute(sqlite.insert(_texts).on_conflict_do_nothing(), row)


async def sms(request: Request) -> Response:
    """Check the signature, store the text as one row, answer empty TwiML."""
    params = Params(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    signature = request.headers.get("x-twilio-signature", "")
    if not _validator.validate(_public_url + request.url.path, params, signature):
        return PlainTextResponse("invalid signature", status_code=403)
    await run_in_threadpool(_insert, params)
    return Response(EMPTY_TWIML, media_type="text/xml")


async def healthz(_request: Request) -> Response:
    """Ready."""
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/twilio/sms", sms, methods=["POST"]), Route("/healthz", healthz)])
