"""Twilio REST operations and state behind TwilioEmulator (no HTTP or auth here)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bridge.sandbox.emulators._server import Response
from bridge.sandbox.emulators._twilio_resources import (
    API_VERSION,
    error_payload,
    matches_date,
    message_resource,
    new_sid,
    page_payload,
    parse_date_filter,
    rfc2822,
    snake_case,
)

Params = dict[str, Any]
Json = dict[str, Any]


@dataclass
class StoredMessage:
    """A message plus what list ordering/filtering and `sent` need."""

    resource: Json
    at: datetime
    seq: int
    outbound_api: bool
    extras: Json = field(default_factory=dict)


def twilio_error(status: int, code: int, message: str | None = None) -> Response:
    """A legacy-format Twilio error response."""
    return Response.json(status, error_payload(status, code, message))


class TwilioRestApi:
    """Messages, numbers and media plus the REST operations; callers hold the lock."""

    def __init__(self, account_sid: str, auth_token: str) -> None:
        """Set credentials and empty state."""
        self.account_sid, self.auth_token = account_sid, auth_token
        self._messages: dict[str, StoredMessage] = {}
        self._numbers: dict[str, Json] = {}
        self._media: dict[tuple[str, str], tuple[bytes, Json]] = {}
        self._seq = 0
        self._handlers: dict[str, Callable[[list[str], Params], Response]] = {
            "messages.create": self._create,
            "messages.list": self._list,
            "messages.fetch": self._fetch,
            "messages.update": self._update,
            "messages.delete": self._delete,
            "media.list": self._media_list,
            "media.fetch": self._media_fetch,
            "media": self._media_content,
            "numbers.list": self._numbers_list,
            "numbers.fetch": self._number_fetch,
            "numbers.update": self._number_update,
            "accounts.fetch": self._account,
        }

    # -- operations --------------------------------------------------------------------------

    def _store(self, resource: Json, at: datetime, outbound_api: bool, extras: Json) -> None:
        self._seq += 1
        self._messages[resource["sid"]] = StoredMessage(
            resource, at, self._seq, outbound_api, extras
        )

    def _create(self, args: list[str], params: Params) -> Response:
        media = params.get("MediaUrl") or []
        media = [media] if isinstance(media, str) else list(media)
        to, from_ = params.get("To"), params.get("From")
        service, body = params.get("MessagingServiceSid"), str(params.get("Body") or "")
        if not to:
            return twilio_error(400, 21604)
        if not from_ and not service:
            return twilio_error(400, 21603)
        if not body and not media:
            return twilio_error(400, 21602)
        if len(body) > 1600:
            return twilio_error(400, 21617)
        now = datetime.now(UTC)
        resource = message_resource(
            account_sid=self.account_sid,
            sid=new_sid("SM"),
            to=str(to),
            from_=str(from_) if from_ else None,
            body=body,
            status="accepted" if service else "queued",
            direction="outbound-api",
            num_media=len(media),
            messaging_service_sid=str(service) if service else None,
            created=now,
            sent=None,
        )
        extras = {
            "media_urls": media,
            "status_callback": params.get("StatusCallback"),
            "params": copy.deepcopy(params),
        }
        self._store(resource, now, True, extras)
        return Response.json(201, resource)

    def _list(self, args: list[str], params: Params) -> Response:
        filters = {k: str(params[k]) for k in ("To", "From") if params.get(k)}
        chosen = [s for s in self._messages.values() if self._keep(s, filters, params)]
        for op in ("", "<", ">"):
            if params.get(f"DateSent{op}"):
                filters[f"DateSent{op}"] = str(params[f"DateSent{op}"])
        chosen.sort(key=lambda s: (s.at, s.seq), reverse=True)
        payload = page_payload(
            key="messages",
            path=f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json",
            filters=filters,
            ordered=[copy.deepcopy(s.resource) for s in chosen],
            params=params,
        )
        return Response.json(200, payload)

    @staticmethod
    def _keep(stored: StoredMessage, filters: dict[str, str], params: Params) -> bool:
        if filters.get("To") and stored.resource["to"] != filters["To"]:
            return False
        if filters.get("From") and stored.resource["from"] != filters["From"]:
            return False
        for op, name in (("=", "DateSent"), ("<", "DateSent<"), (">", "DateSent>")):
            if params.get(name):
                bound = parse_date_filter(str(params[name]))
                if not matches_date(stored.at, op, bound):
                    return False
        return True

    def _message_or_404(self, sid: str) -> StoredMessage | Response:
        stored = self._messages.get(sid)
        if stored is None:
            path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json"
            return twilio_error(404, 20404, f"The requested resource {path} was not found")
        return stored

    def _fetch(self, args: list[str], params: Params) -> Response:
        found = self._message_or_404(args[0])
        if isinstance(found, Response):
            return found
        return Response.json(200, copy.deepcopy(found.resource))

    def _update(self, args: list[str], params: Params) -> Response:
        found = self._message_or_404(args[0])
        if isinstance(found, Response):
            return found
        if "Body" in params:
            found.resource["body"] = str(params["Body"])
        if params.get("Status") == "canceled":
            found.resource["status"] = "canceled"
        return Response.json(200, copy.deepcopy(found.resource))

    def _delete(self, args: list[str], params: Params) -> Response:
        found = self._message_or_404(args[0])
        if isinstance(found, Response):
            return found
        del self._messages[args[0]]
        return Response(204)

    def _media_list(self, args: list[str], params: Params) -> Response:
        items = [meta for (msg, _), (_, meta) in self._media.items() if msg == args[0]]
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{args[0]}/Media.json"
        payload = page_payload(
            key="media_list", path=path, filters={}, ordered=items, params=params
        )
        return Response.json(200, payload)

    def _media_fetch(self, args: list[str], params: Params) -> Response:
        found = self._media.get((args[0], args[1]))
        if found is None:
            return twilio_error(404, 20404)
        return Response.json(200, copy.deepcopy(found[1]))

    def _media_content(self, args: list[str], params: Params) -> Response:
        found = self._media.get((args[0], args[1]))
        if found is None:
            return twilio_error(404, 20404)
        return Response(200, found[0], {"Content-Type": found[1]["content_type"]})

    def _numbers_list(self, args: list[str], params: Params) -> Response:
        wanted = str(params.get("PhoneNumber") or "").replace("*", "")
        items = [copy.deepcopy(n) for n in self._numbers.values() if wanted in n["phone_number"]]
        filters = {"PhoneNumber": str(params["PhoneNumber"])} if params.get("PhoneNumber") else {}
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers.json"
        payload = page_payload(
            key="incoming_phone_numbers", path=path, filters=filters, ordered=items, params=params
        )
        return Response.json(200, payload)

    def _number_fetch(self, args: list[str], params: Params) -> Response:
        number = self._numbers.get(args[0])
        if number is None:
            return twilio_error(404, 20404)
        return Response.json(200, copy.deepcopy(number))

    def _number_update(self, args: list[str], params: Params) -> Response:
        number = self._numbers.get(args[0])
        if number is None:
            return twilio_error(404, 20404)
        for name, value in params.items():
            key = snake_case(name)
            if key in number and key not in ("sid", "account_sid", "uri", "phone_number"):
                number[key] = value
        number["date_updated"] = rfc2822(datetime.now(UTC))
        return Response.json(200, copy.deepcopy(number))

    def _account(self, args: list[str], params: Params) -> Response:
        return Response.json(
            200,
            {
                "sid": self.account_sid,
                "friendly_name": "smsbridge test account",
                "status": "active",
                "type": "Full",
                "uri": f"/{API_VERSION}/Accounts/{self.account_sid}.json",
            },
        )
