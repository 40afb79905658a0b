"""Twilio REST (2010-04-01) emulator: real HTTP on 127.0.0.1 for `twilio.rest.Client`."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import time
from datetime import UTC, datetime
from typing import Any

from bridge.sandbox.emulators._server import (
    Call,
    EmulatorServer,
    Fault,
    Request,
    Response,
    fault_body_response,
    format_retry_after,
    parse_body,
)
from bridge.sandbox.emulators._twilio_media import CDN_PREFIX, TwilioMediaMixin
from bridge.sandbox.emulators._twilio_ops import Json, Params, TwilioRestApi, twilio_error
from bridge.sandbox.emulators._twilio_resources import (
    API_VERSION,
    error_payload,
    media_resource,
    message_resource,
    new_sid,
    number_resource,
    rfc2822,
)


def params_media(params: Params) -> list[str]:
    """The MediaUrl values of a create request, in order."""
    media = params.get("MediaUrl") or []
    return [media] if isinstance(media, str) else list(media)


_ACCOUNT_PATH = re.compile(rf"^/{API_VERSION}/Accounts/([^/.]+)(.*)$")
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("POST", re.compile(r"^/Messages\.json$"), "messages.create"),
    ("GET", re.compile(r"^/Messages\.json$"), "messages.list"),
    ("GET", re.compile(r"^/Messages/(\w+)\.json$"), "messages.fetch"),
    ("POST", re.compile(r"^/Messages/(\w+)\.json$"), "messages.update"),
    ("DELETE", re.compile(r"^/Messages/(\w+)\.json$"), "messages.delete"),
    ("GET", re.compile(r"^/Messages/(\w+)/Media\.json$"), "media.list"),
    ("GET", re.compile(r"^/Messages/(\w+)/Media/(\w+)\.json$"), "media.fetch"),
    ("GET", re.compile(r"^/Messages/(\w+)/Media/(\w+)$"), "media"),
    ("GET", re.compile(r"^/IncomingPhoneNumbers\.json$"), "numbers.list"),
    ("GET", re.compile(r"^/IncomingPhoneNumbers/(\w+)\.json$"), "numbers.fetch"),
    ("POST", re.compile(r"^/IncomingPhoneNumbers/(\w+)\.json$"), "numbers.update"),
    ("GET", re.compile(r"^(?:\.json)?$"), "accounts.fetch"),
]


class TwilioEmulator(TwilioMediaMixin, TwilioRestApi, EmulatorServer):
    """Stateful Twilio REST stand-in with HTTP Basic auth, paging and fault injection."""

    def __init__(
        self,
        account_sid: str = "AC" + "0" * 32,
        auth_token: str = "test-auth-token",  # noqa: S107
    ) -> None:
        """Configure credentials; `emu.auth_token` may be changed at runtime."""
        EmulatorServer.__init__(self)
        TwilioRestApi.__init__(self, account_sid, auth_token)
        self._init_media()

    @property
    def url(self) -> str:
        """Origin to give ApiOriginHttpClient, e.g. http://127.0.0.1:PORT."""
        return self.origin

    # -- fault injection ---------------------------------------------------------------------

    def fail(
        self,
        kind: str,
        *,
        status: int = 500,
        code: int = 20500,
        retry_after: float | None = None,
        times: int = 1,
        delay: float = 0.0,
        effect: bool = False,
        message: str | None = None,
        body: str | bytes | dict[str, Any] | None = None,
    ) -> None:
        """Queue failures for an operation kind ("messages.create", "messages.list", ...)."""
        if status == 429 and code == 20500:
            code = 20429
        fault = Fault(status, times, message, code, retry_after, delay, effect, False, body)
        self._queue_fault(kind, fault)

    def latency(self, kind: str, seconds: float, times: int = 1, effect_first: bool = True) -> None:
        """Queue slow-but-successful answers for an operation kind."""
        self._queue_fault(kind, Fault(200, times, delay=seconds, effect=effect_first, succeed=True))

    def _failure(self, fault: Fault) -> Response:
        if fault.status == 0:
            return Response(0)
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = format_retry_after(fault.retry_after)
        if fault.body is not None:
            return fault_body_response(fault.status, fault.body, headers)
        payload = error_payload(fault.status, fault.code or fault.status, fault.error)
        return Response.json(fault.status, payload, headers)

    # -- HTTP entry point --------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Route, record, then answer: down → 503, queued fault, auth, the operation."""
        matched = _ACCOUNT_PATH.match(request.path)
        kind, args = "unknown", []
        if matched:
            for verb, pattern, name in _ROUTES:
                found = pattern.match(matched.group(2))
                if found and verb == request.http_method:
                    kind, args = name, list(found.groups())
                    break
        if request.path.startswith(CDN_PREFIX):
            self._record(Call(request.path, {}, request.headers, time.time(), "GET", "media.cdn"))
            with self._lock:
                return self._cdn_answer(request.path)
        params: Params = {**request.query, **parse_body(request.headers, request.body)}
        self._record(
            Call(request.path, params, request.headers, time.time(), request.http_method, kind)
        )
        if self.down:
            return twilio_error(503, 20503)
        fault = None if kind == "unknown" else self._take_fault(kind)
        return self._apply_fault(
            fault, lambda: self._answer(request, matched, kind, args, params), self._failure
        )

    def _answer(
        self,
        request: Request,
        matched: re.Match[str] | None,
        kind: str,
        args: list[str],
        params: Params,
    ) -> Response:
        if not self._authorized(request.headers.get("authorization", "")):
            response = twilio_error(401, 20003)
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return response
        if matched is None or kind == "unknown" or matched.group(1) != self.account_sid:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        with self._lock:
            if kind == "media":
                redirect = self._media_redirect(args)
                if redirect is not None:
                    return redirect
            answer = self._handlers[kind](args, params)
        if kind == "messages.create" and answer.status == 201:
            created = json.loads(answer.body)
            self._fetch_media_later(created["sid"], list(params_media(params)))
        return answer

    def _authorized(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (user, password) == (self.account_sid, self.auth_token)

    # -- test-side helpers -------------------------------------------------------------------

    @property
    def sent(self) -> list[Json]:
        """Messages created through the API: resource JSON + media_urls, status_callback, params."""
        with self._lock:
            return [
                {**copy.deepcopy(s.resource), **copy.deepcopy(s.extras)}
                for s in sorted(self._messages.values(), key=lambda s: s.seq)
                if s.outbound_api
            ]

    def messages(self) -> list[Json]:
        """Every message on the account (sent, received, seeded), oldest first, as resources."""
        with self._lock:
            ordered = sorted(self._messages.values(), key=lambda s: s.seq)
            return [{**copy.deepcopy(s.resource), **copy.deepcopy(s.extras)} for s in ordered]

    def seed_message(
        self,
        *,
        to: str,
        from_: str,
        body: str,
        direction: str = "inbound",
        date_sent: datetime | None = None,
        status: str | None = None,
        num_media: int = 0,
    ) -> Json:
        """Add a historical message visible to list/fetch (not in `sent`); returns it."""
        moment = date_sent or datetime.now(UTC)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        resource = message_resource(
            account_sid=self.account_sid,
            sid=new_sid("MM" if num_media else "SM"),
            to=to,
            from_=from_,
            body=body,
            status=status or ("received" if direction == "inbound" else "delivered"),
            direction=direction,
            num_media=num_media,
            messaging_service_sid=None,
            created=moment,
            sent=moment,
        )
        with self._lock:
            self._store(resource, moment, False, {})
        return copy.deepcopy(resource)

    def set_status(self, sid: str, status: str, error_code: int | None = None) -> None:
        """Move a message to a new status (e.g. delivered/failed), stamping date_sent."""
        with self._lock:
            stored = self._messages[sid]
            stored.resource.update(status=status, error_code=error_code)
            if stored.resource["date_sent"] is None and status in ("sent", "delivered"):
                stored.resource["date_sent"] = rfc2822(datetime.now(UTC))

    def add_number(
        self, e164: str, sms_url: str | None = None, friendly_name: str | None = None
    ) -> str:
        """Register an IncomingPhoneNumber; returns its PN sid."""
        sid = new_sid("PN")
        with self._lock:
            self._numbers[sid] = number_resource(
                self.account_sid, sid, e164, sms_url, friendly_name
            )
        return sid

    def number(self, sid_or_e164: str) -> Json | None:
        """An IncomingPhoneNumber (copy) by PN sid or phone number."""
        with self._lock:
            for number in self._numbers.values():
                if sid_or_e164 in (number["sid"], number["phone_number"]):
                    return copy.deepcopy(number)
        return None

    def add_media(self, message_sid: str, content: bytes, content_type: str) -> str:
        """Serve content at .../Messages/{message_sid}/Media/{ME sid}; returns the full URL."""
        sid = new_sid("ME")
        meta = media_resource(self.account_sid, message_sid, sid, content_type)
        with self._lock:
            self._media[(message_sid, sid)] = (content, meta)
        return f"{self.origin}{meta['uri'].removesuffix('.json')}"
