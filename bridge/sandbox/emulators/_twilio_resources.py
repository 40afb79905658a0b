"""Twilio REST resource JSON builders (Message, IncomingPhoneNumber, Media, errors, pages)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

API_VERSION = "2010-04-01"
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "ÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà^{}\\[~]|€"
)
_GSM7_EXT = set("^{}\\[~]|€")
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21617: "The concatenated message body exceeds the 1600 character limit.",
}


def new_sid(prefix: str) -> str:
    """A Twilio-style SID: two-letter prefix + 32 lowercase hex chars."""
    return prefix + uuid.uuid4().hex


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's date format, e.g. "Fri, 31 Oct 2014 03:39:29 +0000"."""
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return format_datetime(aware.astimezone(UTC))


def num_segments(body: str) -> int:
    """SMS segment count: GSM-7 160/153 septets, otherwise UCS-2 70/67 chars."""
    if not body:
        return 1
    if all(ch in _GSM7 for ch in body):
        septets = sum(2 if ch in _GSM7_EXT else 1 for ch in body)
        return 1 if septets <= 160 else -(-septets // 153)
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)


def error_payload(status: int, code: int, message: str | None = None) -> dict[str, Any]:
    """The legacy 2010 API error body: code, message, more_info, status."""
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def message_resource(
    *,
    account_sid: str,
    sid: str,
    to: str,
    from_: str | None,
    body: str,
    status: str,
    direction: str,
    num_media: int,
    messaging_service_sid: str | None,
    created: datetime,
    sent: datetime | None,
) -> dict[str, Any]:
    """A Message resource as GET /Messages/{sid}.json returns it."""
    uri = f"/{API_VERSION}/Accounts/{account_sid}/Messages/{sid}"
    pending = messaging_service_sid is not None and status == "accepted"
    return {
        "account_sid": account_sid,
        "api_version": API_VERSION,
        "body": body,
        "date_created": rfc2822(created),
        "date_sent": rfc2822(sent),
        "date_updated": rfc2822(created),
        "direction": direction,
        "error_code": None,
        "error_message": None,
        "from": from_,
        "messaging_service_sid": messaging_service_sid,
        "num_media": str(num_media),
        "num_segments": "0" if pending else str(num_segments(body)),
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": status,
        "subresource_uris": {"media": f"{uri}/Media.json", "feedback": f"{uri}/Feedback.json"},
        "to": to,
        "uri": f"{uri}.json",
    }


def media_resource(
    account_sid: str, message_sid: str, sid: str, content_type: str
) -> dict[str, Any]:
    """A Media sub-resource JSON."""
    now = rfc2822(datetime.now(UTC))
    return {
        "account_sid": account_sid,
        "content_type": content_type,
        "date_created": now,
        "date_updated": now,
        "parent_sid": message_sid,
        "sid": sid,
        "uri": f"/{API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}/Media/{sid}.json",
    }


def number_resource(
    account_sid: str, sid: str, e164: str, sms_url: str | None, friendly_name: str | None
) -> dict[str, Any]:
    """An IncomingPhoneNumber resource JSON (the fields a messaging app touches)."""
    now = rfc2822(datetime.now(UTC))
    uri = f"/{API_VERSION}/Accounts/{account_sid}/IncomingPhoneNumbers/{sid}"
    return {
        "account_sid": account_sid,
        "address_requirements": "none",
        "api_version": API_VERSION,
        "beta": False,
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
        "date_created": now,
        "date_updated": now,
        "friendly_name": friendly_name or e164,
        "origin": "twilio",
        "phone_number": e164,
        "sid": sid,
        "sms_application_sid": "",
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": "POST",
        "sms_url": sms_url or "",
        "status": "in-use",
        "status_callback": "",
        "status_callback_method": "POST",
        "voice_method": "POST",
        "voice_url": "",
        "uri": f"{uri}.json",
        "subresource_uris": {"assigned_add_ons": f"{uri}/AssignedAddOns.json"},
    }


def snake_case(name: str) -> str:
    """SmsUrl -> sms_url, StatusCallback -> status_callback."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def parse_date_filter(value: str) -> date | datetime:
    """Parse a DateSent filter: YYYY-MM-DD, or an ISO-8601 datetime (Z = UTC)."""
    text = value.strip()
    if len(text) == 10:
        return date.fromisoformat(text)
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def matches_date(moment: datetime, op: str, bound: date | datetime) -> bool:
    """DateSent (same UTC day), DateSent< (on/before) and DateSent> (on/after) semantics."""
    moment = moment.astimezone(UTC)
    if op == "=" or not isinstance(bound, datetime):
        day = bound.date() if isinstance(bound, datetime) else bound
        value, limit = moment.date(), day
        return value == limit if op == "=" else (value <= limit if op == "<" else value >= limit)
    return moment <= bound if op == "<" else moment >= bound


def page_payload(
    *,
    key: str,
    path: str,
    filters: dict[str, str],
    ordered: list[dict[str, Any]],
    params: dict[str, Any],
) -> dict[str, Any]:
    """Slice `ordered` by PageSize/Page/PageToken and wrap it in Twilio's list envelope."""
    size = min(max(int(params.get("PageSize") or 50), 1), 1000)
    page = max(int(params.get("Page") or 0), 0)
    token = str(params.get("PageToken") or "")
    sids = [item["sid"] for item in ordered]
    start = page * size
    if token[:2] in ("PA", "PB") and token[2:] in sids:
        anchor = sids.index(token[2:])
        start = anchor + 1 if token[:2] == "PA" else max(anchor - size, 0)
    items = ordered[start : start + size]

    def link(page_no: int, page_token: str | None) -> str:
        query = {**filters, "PageSize": str(size), "Page": str(page_no)}
        if page_token:
            query["PageToken"] = page_token
        return f"{path}?{urlencode(query)}"

    has_next = start + size < len(ordered)
    return {
        key: items,
        "end": start + max(len(items) - 1, 0),
        "first_page_uri": link(0, None),
        "next_page_uri": link(page + 1, "PA" + items[-1]["sid"]) if has_next and items else None,
        "page": page,
        "page_size": size,
        "previous_page_uri": (
            link(page - 1, "PB" + items[0]["sid"]) if page > 0 and items else None
        ),
        "start": start,
        "uri": link(page, token or None),
    }
