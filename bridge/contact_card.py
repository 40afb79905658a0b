"""Building the thread header for a contact."""

from __future__ import annotations

from datetime import datetime

from bridge.cards import ContactCard
from bridge.consent import Consent, describe_source
from bridge.localtime import local_time, quiet_check_for, resolve_zone
from bridge.phones import international
from bridge.quiet_hours import QuietPolicy
from store.models import ConsentChange, Contact


def card_for(
    contact: Contact,
    *,
    default_zone: str,
    now: datetime,
    change: ConsentChange | None = None,
    policy: QuietPolicy | None = None,
) -> ContactCard:
    """The header as it should read at `now`; `change` is the latest consent change."""
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
        consent_how=describe_source(change.source, change.detail) if change else None,
        consent_by=change.actor if change else None,
        contact_id=contact.id,
        quiet=policy is not None
        and not quiet_check_for(contact, policy=policy, default_zone=default_zone, now=now).allowed,
    )


def location_of(contact: Contact) -> str | None:
    """`City, ST` (and the country outside the US) when Twilio told us."""
    parts = [part for part in (contact.city, contact.state) if part]
    if contact.country and contact.country != "US":
        parts.append(contact.country)
    return ", ".join(parts) or None
