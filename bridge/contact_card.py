"""Building the thread header for a contact."""

from __future__ import annotations

from datetime import datetime

from bridge.cards import ContactCard
from bridge.consent import Consent
from bridge.localtime import local_time, resolve_zone
from bridge.phones import international
from store.models import Contact


def card_for(contact: Contact, *, default_zone: str, now: datetime) -> ContactCard:
    """The header as it should read at `now`."""
    zone = resolve_zone(phone=contact.phone, stored=contact.timezone, default=default_zone)
    phone = international(contact.phone)
    return ContactCard(
        display_name=contact.name or phone,
        phone_display=phone,
        consent=Consent(contact.consent),
        consent_since=contact.consent_changed_at,
        local_now=local_time(zone.primary, now),
        zone=zone.primary,
        zone_uncertain=zone.uncertain,
        location=location_of(contact),
    )


def location_of(contact: Contact) -> str | None:
    """`City, ST` (and the country outside the US) when Twilio told us."""
    parts = [part for part in (contact.city, contact.state) if part]
    if contact.country and contact.country != "US":
        parts.append(contact.country)
    return ", ".join(parts) or None
