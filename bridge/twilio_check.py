"""`smsbridge check`, Twilio's part: credentials, business numbers and their SMS webhooks."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client

from bridge.findings import Finding, bad, good
from bridge.ids import E164
from bridge.twilio_transport import ApiOriginHttpClient

log = logging.getLogger(__name__)

AREA = "Twilio"
_TIMEOUT_SECONDS = 15.0


class _Unreachable(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def twilio_client(*, account_sid: str, auth_token: str, api_url: str) -> Client:
    """The real Twilio client, its traffic sent to `api_url`."""
    http = ApiOriginHttpClient(api_url, timeout=_TIMEOUT_SECONDS)
    return Client(account_sid, auth_token, http_client=http)


def check_twilio(
    client: Client, *, numbers: Iterable[E164], public_url: str | None, fix: bool
) -> list[Finding]:
    """The account answers our credentials; each number is ours and texts reach us."""
    try:
        account = _guard(lambda: client.api.v2010.accounts(client.account_sid).fetch())
    except TwilioRestException as exc:
        if exc.status in (401, 403):
            return [
                bad(
                    AREA,
                    f"the account SID and auth token were refused ({exc.code or exc.status})",
                    "copy TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN from the Twilio console",
                )
            ]
        return [bad(AREA, f"the account lookup failed: {_rest_reason(exc)}", _api_fix(client))]
    except _Unreachable as exc:
        return [bad(AREA, f"cannot reach the REST API: {exc.why}", _api_fix(client))]
    findings = [good(AREA, f"signed in to account {account.friendly_name!r} ({account.status})")]
    # Without PUBLIC_URL there is no right webhook to compare with, nor to --fix to.
    sms_url = f"{public_url}/twilio/sms" if public_url else None
    for number in dict.fromkeys(numbers):
        findings.append(_number(client, number, sms_url, fix))
    if public_url:
        status_url = f"{public_url}/twilio/status"
        findings.append(good(AREA, f"delivery statuses are asked for at {status_url} on each send"))
    return findings


def _number(client: Client, number: E164, sms_url: str | None, fix: bool) -> Finding:
    try:
        found = _guard(lambda: client.incoming_phone_numbers.list(phone_number=number, limit=20))
    except (TwilioRestException, _Unreachable) as exc:
        why = exc.why if isinstance(exc, _Unreachable) else _rest_reason(exc)
        return bad(AREA, f"looking up {number} failed: {why}", _api_fix(client))
    match = next((n for n in found if n.phone_number == number), None)
    if match is None:
        return bad(
            AREA,
            f"{number} is not a number on this Twilio account",
            "buy or port it in the console, or correct TWILIO_FROM / ROUTES",
        )
    if sms_url is None:
        return good(AREA, f"{number} is on the account (set PUBLIC_URL to check its webhook)")
    if match.sms_application_sid:
        return bad(
            AREA,
            f"{number} hands texts to TwiML app {match.sms_application_sid}, not to smsbridge",
            f"remove the app from the number and set its SMS webhook to {sms_url} (POST)",
        )
    if match.sms_url == sms_url and (match.sms_method or "POST").upper() == "POST":
        return good(AREA, f"{number} sends incoming texts to {sms_url}")
    shown = match.sms_url or "nowhere"
    if not fix:
        return bad(
            AREA,
            f"{number} sends incoming texts to {shown}",
            f"run `smsbridge check --fix`, or set its SMS webhook to {sms_url} (POST)",
        )
    return _set_webhook(client, match, number, sms_url)


def _set_webhook(client: Client, match: Any, number: E164, sms_url: str) -> Finding:
    try:
        _guard(lambda: match.update(sms_url=sms_url, sms_method="POST"))
    except (TwilioRestException, _Unreachable) as exc:
        why = exc.why if isinstance(exc, _Unreachable) else _rest_reason(exc)
        return bad(AREA, f"setting the webhook of {number} failed: {why}", "set it in the console")
    return good(AREA, f"{number} now sends incoming texts to {sms_url} (fixed)")


def _guard(action: Any) -> Any:
    try:
        return action()
    except TwilioRestException:
        raise
    except (OSError, TwilioException) as exc:
        log.debug("Twilio unreachable", exc_info=True)
        raise _Unreachable(_reason(exc)) from None


def _reason(exc: BaseException) -> str:
    inner: BaseException = exc
    while inner.__context__ is not None and not getattr(inner, "strerror", None):
        inner = inner.__context__
    return getattr(inner, "strerror", None) or str(inner)[:120] or type(inner).__name__


def _rest_reason(exc: TwilioRestException) -> str:
    return f"HTTP {exc.status}, code {exc.code}: {(exc.msg or '')[:100]}"


def _api_fix(client: Client) -> str:
    origin = getattr(client.http_client, "base_url", "https://api.twilio.com")
    return f"check the network and TWILIO_API_URL (now {origin})"
