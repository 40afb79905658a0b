"""The reference for the latency benchmark: an endpoint that only checks Twilio's signature."""

from __future__ import annotations

import os
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from bridge.twilio_webhook import EMPTY_TWIML, Params

_validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
_public_url = os.environ["PUBLIC_URL"]


async def sms(request: Request) -> Response:
    """Check the signature and answer empty TwiML; store nothing."""
    params = Params(parse_qsl((await request.body()).decode(), keep_blank_values=True))
    signature = request.headers.get("x-twilio-signature", "")
    if not _validator.validate(_public_url + request.url.path, params, signature):
        return PlainTextResponse("invalid signature", status_code=403)
    return Response(EMPTY_TWIML, media_type="text/xml")


async def healthz(_request: Request) -> Response:
    """Ready."""
    return PlainTextResponse("ok")


app = Starlette(routes=[Route("/twilio/sms", sms, methods=["POST"]), Route("/healthz", healthz)])
