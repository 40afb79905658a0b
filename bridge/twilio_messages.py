"""Twilio's Messages resource, called through the twilio client's own `request`.

The generated resource classes (`client.messages`) load twilio's whole Account API, about 90
modules and 7 MiB of memory that stay for the life of the process, for the two calls we make.
`Client.request` keeps what matters of the client: authentication, user agent, edge and
region, our transport; twilio's own `Version.exception` turns an error answer into the same
`TwilioRestException` the resource classes raise.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twilio.base.deserialize import rfc2822_datetime
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.base.version import Version
from twilio.http.response import Response
from twilio.rest import Client

from bridge.twilio_transport import ApiOriginHttpClient

_API = "https://api.twilio.com/2010-04-01"
_HEADERS = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


@dataclass(frozen=True, slots=True)
class Message:
    """The fields of a Message resource that we read."""

    sid: str
    status: str
    body: str
    num_media: int
    date_created: datetime | None
    date_sent: datetime | None


class Messages:
    """`Messages.json` of the client's account: create, and the first page of a list."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._uri = f"{_API}/Accounts/{client.account_sid}/Messages.json"

    @classmethod
    def at(cls, *, account_sid: str, auth_token: str, api_url: str, timeout: float) -> Messages:
        """The account's messages at `api_url` (Twilio's, or an emulator), calls timing out."""
        http = ApiOriginHttpClient(api_url, timeout=timeout)
        return cls(Client(account_sid, auth_token, http_client=http))

    def create(
        self,
        *,
        to: str,
        body: str,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        media_url: list[str] | None = None,
    ) -> Message:
        """POST a message; raises TwilioRestException on an error answer."""
        data: dict[str, object] = {"To": to, "Body": body}
        optional = {
            "From": from_,
            "MessagingServiceSid": messaging_service_sid,
            "StatusCallback": status_callback,
            "MediaUrl": media_url or None,
        }
        data.update((key, value) for key, value in optional.items() if value is not None)
        response = self._client.request("POST", self._uri, data=data, headers=dict(_HEADERS))
        if not 200 <= response.status_code < 300:
            raise _error("POST", self._uri, response, "Unable to create record")
        created = _message(_json(response))
        if not created.sid:
            # Taken or not, we cannot tell: the sender looks for it before sending again.
            raise TwilioException(f"Twilio answered HTTP {response.status_code} without a sid")
        return created

    def list(self, *, to: str, from_: str, limit: int) -> list[Message]:
        """The newest `limit` messages from `from_` to `to`, newest first (one page)."""
        params = {"To": to, "From": from_, "PageSize": limit}
        response = self._client.request("GET", self._uri, params=params, headers=dict(_HEADERS))
        if not 200 <= response.status_code < 400:
            raise _error("GET", self._uri, response, "Unable to fetch page")
        items = _json(response).get("messages")
        return [_message(item) for item in (items if isinstance(items, list) else [])[:limit]]


def _json(response: Response) -> dict[str, Any]:
    """The answer's JSON object; an unreadable one is an error of the call, like a lost one."""
    try:
        payload = json.loads(response.text)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        raise TwilioException(f"Twilio answered HTTP {response.status_code} without a JSON object")
    return payload


def _error(method: str, uri: str, response: Response, message: str) -> TwilioRestException:
    error = Version.exception(method, uri, response, message)
    if isinstance(error, TwilioRestException):
        return error
    # An RFC 9457 answer (TwilioServiceException): the same fields, as the gateway reads them.
    return TwilioRestException(
        response.status_code, uri, str(error), getattr(error, "code", None), method
    )


def _message(payload: dict[str, Any]) -> Message:
    return Message(
        sid=str(payload.get("sid") or ""),
        status=str(payload.get("status") or "queued"),
        body=str(payload.get("body") or ""),
        num_media=_count(payload.get("num_media")),
        date_created=_when(payload.get("date_created")),
        date_sent=_when(payload.get("date_sent")),
    )


def _count(value: object) -> int:
    try:
        return int(str(value or 0))
    except ValueError:
        return 0


def _when(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = rfc2822_datetime(value)
    return parsed if isinstance(parsed, datetime) else None
