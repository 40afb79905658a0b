"""Phone numbers: parsing to E.164, display, and the time zones a number implies."""

from __future__ import annotations

import phonenumbers
from phonenumbers import timezone as phone_timezones

from bridge.ids import E164
from bridge.nanp_states import state_of

_UNKNOWN_ZONE = "Etc/Unknown"


def parse_e164(raw: str, region: str | None = None, *, strict: bool = False) -> E164 | None:
    """The number in E.164 form, or None when `raw` is not a possible phone number.

    `region` reads national numbers; `strict` also wants the number to exist in the
    numbering plan (for lists people typed, not for senders Twilio vouches for).
    """
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    check = phonenumbers.is_valid_number if strict else phonenumbers.is_possible_number
    if not check(number):
        return None
    return E164(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def international(number: str) -> str:
    """A number as people read it internationally (+1 415-555-0100); other senders as given."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    if not phonenumbers.is_possible_number(parsed):
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def masked(number: str) -> str:
    """A number safe for logs at INFO: only the last two digits show."""
    if len(number) <= 4:
        return "*" * len(number)
    return number[:2] + "*" * (len(number) - 4) + number[-2:]


def zones_for(number: str) -> tuple[str, ...]:
    """The IANA zones `phonenumbers` maps the number to; empty when it knows none."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ()
    zones = phone_timezones.time_zones_for_number(parsed)
    return tuple(zone for zone in zones if zone != _UNKNOWN_ZONE)


def region_of(number: str) -> str | None:
    """The ISO country code of the number, when known."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed)


def place_of(number: str) -> str:
    """The state or province a US or Canadian number belongs to (`FL`), else ``""``."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return ""
    if parsed.country_code != 1 or not phonenumbers.is_valid_number(parsed):
        return ""
    return state_of(phonenumbers.national_significant_number(parsed)) or ""
