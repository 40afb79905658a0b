"""A contact's time zone and local time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.phones import place_of, region_of, zones_for
from bridge.quiet_hours import QuietCheck, QuietPolicy, check, region_key
from store.models import Contact


@dataclass(frozen=True)
class ContactZone:
    """The zones a contact may be in; more than one means we are not sure which."""

    zones: tuple[str, ...]
    source: str

    @property
    def primary(self) -> str:
        """The zone shown first."""
        return self.zones[0]

    @property
    def uncertain(self) -> bool:
        """Whether the number maps to several zones."""
        return len(set(self.zones)) > 1


def resolve_zone(*, phone: str, stored: str | None, default: str) -> ContactZone:
    """Imported or set zone first, then what the number implies, then the default."""
    if stored and is_zone(stored):
        return ContactZone((stored,), "set")
    implied = tuple(zone for zone in zones_for(phone) if is_zone(zone))
    if implied:
        return ContactZone(implied, "number")
    return ContactZone((default,), "default")


def local_time(zone: str, now: datetime) -> datetime:
    """`now` seen in `zone`."""
    return now.astimezone(ZoneInfo(zone))


def is_zone(zone: str) -> bool:
    """Whether `zone` names an IANA time zone this machine knows."""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def quiet_check_for(
    contact: Contact, *, policy: QuietPolicy, default_zone: str, now: datetime
) -> QuietCheck:
    """Whether a text may go to `contact` at `now`, by their zones and their state's rules."""
    zone = resolve_zone(phone=contact.phone, stored=contact.timezone, default=default_zone)
    region = region_key(
        country=contact.country or region_of(contact.phone),
        state=contact.state,
        place=place_of(contact.phone),
    )
    return check(policy, zones=zone.zones, region=region, now=now)
