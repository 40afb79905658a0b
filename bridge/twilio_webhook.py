"""`POST /twilio/sms`: verify Twilio's signature, store the webhook, answer empty TwiML."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from urllib.parse import parse_qsl

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from twilio.request_validator import RequestValidator

from bridge.config import Settings
from bridge.http_body import BodyTooLarge, read_capped
from bridge.ids import MessageSid
from bridge.inbound import InboundText, accept
from bridge.intake import applied_at
from bridge.intake_writer import IntakeWriter
from bridge.unavailable import DATABASE_DOWN, database_down_response
from store import intake
from store.intake import Claimed, IntakeRow

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
TWILIO = intake.TWILIO_SOURCE
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
_SID = re.compile(r"(SM|MM)[0-9a-fA-F]{32}")


class Params(dict[str, str]):
    """Form parameters keeping every value, as Twilio's validator expects (`getall`)."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        super().__init__()
        self._all: dict[str, list[str]] = {}
        for key, value in pairs:
            self._all.setdefault(key, []).append(value)
            self.setdefault(key, value)

    def getall(self, key: str) -> list[str]:
        """Every value given for `key`, in order."""
        return self._all.get(key, [])

    def pairs(self) -> list[tuple[str, str]]:
        """Every (key, value), keys in first-seen order."""
        return [(key, value) for key, values in self._all.items() for value in values]


class TwilioRequestCheck:
    """What every Twilio webhook must pass: a form body, our signature, our account."""

    def __init__(self, settings: Settings, public_url: str) -> None:
        assert settings.twilio_auth_token is not None
        self._account = settings.twilio_account_sid
        self._public_url = public_url.rstrip("/")
        self._validator = RequestValidator(settings.twilio_auth_token)

    async def verified(self, request: Request) -> Params | Response:
        """The request's parameters, or the 4xx answer that refuses it."""
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return PlainTextResponse("expected a form-encoded body", status_code=415)
        try:
            raw = await read_capped(request, MAX_BODY_BYTES)
        except BodyTooLarge:
            return PlainTextResponse("request body too large", status_code=413)
        try:
            params = Params(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
        except (UnicodeDecodeError, ValueError):
            return PlainTextResponse("malformed form body", status_code=400)
        if not self._signed(request, params):
            log.warning("refused a Twilio webhook with a missing or wrong signature")
            return PlainTextResponse("invalid signature", status_code=403)
        if params.get("AccountSid") != self._account:
            log.warning("refused a Twilio webhook for another account")
            return PlainTextResponse("unknown account", status_code=403)
        return params

    def _signed(self, request: Request, params: Params) -> bool:
        signature = request.headers.get("x-twilio-signature", "")
        if not signature:
            return False
        # Proxies rewrite the URL we see: Twilio signed the public one.
        url = self._public_url + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        return bool(self._validator.validate(url, params, signature))


class TwilioSmsWebhook:
    """The ASGI endpoint for inbound texts: stored raw, then acked; applied by the intake."""

    def __init__(
        self,
        *,
        settings: Settings,
        public_url: str,
        now: Callable[[], datetime],
        intake: IntakeWriter,
    ) -> None:
        self._check = TwilioRequestCheck(settings, public_url)
        self._now = now
        self._intake = intake

    async def handle(self, request: Request) -> Response:
        """Handle one webhook; every refusal is a 4xx with a short reason."""
        with self._intake.answering():
            return await self._handle(request)

    async def _handle(self, request: Request) -> Response:
        params = await self._check.verified(request)
        if isinstance(params, Response):
            return params
        text, problem = parse_inbound(params)
        if text is None:
            return PlainTextResponse(problem, status_code=400)
        row = IntakeRow(
            key=f"{TWILIO}:{text.sid}",
            source=TWILIO,
            # Twilio gives one number the same spelling every time: its texts keep their order.
            order_key=intake.text_order_key(text.sender),
            payload=json.dumps(params.pairs()),
            received_at=self._now(),
        )
        try:
            await self._intake.store(row)
        except DATABASE_DOWN as down:
            return database_down_response(down)
        return Response(EMPTY_TWIML, media_type="text/xml")


def twilio_handler(settings: Settings) -> Callable[[Session, Claimed], None]:
    """The intake handler for stored inbound texts: `accept`, as of when Twilio sent them."""

    def apply(session: Session, row: Claimed) -> None:
        pairs = [(str(key), str(value)) for key, value in json.loads(row.payload)]
        text, problem = parse_inbound(Params(pairs))
        if text is None:  # checked before it was stored; kept for rows of older versions
            log.error("stored inbound text %s is malformed (%s); dropped", row.id, problem)
            return
        accept(session, settings=settings, text=text, at=applied_at(row))

    return apply


def parse_inbound(params: Params) -> tuple[InboundText | None, str]:
    """The inbound text the parameters describe, or None and what is wrong."""
    sid, sender, to = (params.get(k, "").strip() for k in ("MessageSid", "From", "To"))
    if not _SID.fullmatch(sid):
        return None, "MessageSid is missing or malformed"
    if not sender or len(sender) > 32:
        return None, "From is missing or malformed"
    if not to or len(to) > 32:
        return None, "To is missing or malformed"
    num_media = params.get("NumMedia", "0").strip()
    count = int(num_media) if num_media.isdecimal() and len(num_media) < 3 else 0
    return (
        InboundText(
            sid=MessageSid(sid),
            sender=sender,
            to=to,
            body=params.get("Body", ""),
            num_media=count,
            opt_out_type=params.get("OptOutType") or None,
            city=_short(params.get("FromCity")),
            state=_short(params.get("FromState")),
            zip=_short(params.get("FromZip")),
            country=_short(params.get("FromCountry"), 8),
            media=_media(params, count),
        ),
        "",
    )


# Twilio sends at most 10 media per message; a URL longer than this is not one of Twilio's.
_MAX_MEDIA, _MAX_URL = 10, 2000


def _media(params: Params, count: int) -> tuple[tuple[str, str], ...]:
    """(MediaUrlN, MediaContentTypeN) pairs; whether a URL may be fetched is decided later."""
    found = []
    for n in range(min(count, _MAX_MEDIA)):
        url = params.get(f"MediaUrl{n}", "").strip()
        if url and len(url) <= _MAX_URL:
            found.append((url, params.get(f"MediaContentType{n}", "").strip()[:100]))
    return tuple(found)


def _short(value: str | None, limit: int = 100) -> str | None:
    return value.strip()[:limit] or None if value else None
