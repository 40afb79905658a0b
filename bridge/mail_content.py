"""What the mails say: a plain-text and an HTML rendering of the same few parts.

Everything from a customer or a contact record is data here: it is escaped in HTML, and it
only reaches a header (the subject) through `bridge.mail.header_text`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from bridge.consent import Consent
from bridge.contact_card import location_of
from bridge.localtime import local_time, resolve_zone
from bridge.phones import international
from store.models import Contact

_CONSENT_WORDS = {
    Consent.SUBSCRIBED: "Subscribed to SMS",
    Consent.UNSUBSCRIBED: "Unsubscribed from SMS",
    Consent.NEVER_SUBSCRIBED: "Never subscribed to SMS",
}
_FOOTER = (
    "Answer in the Slack thread: a reply to this email does not reach the customer. "
    "Sent by smsbridge."
)


@dataclass(frozen=True)
class Body:
    """A mail's parts: a lead sentence, the customer's words, facts, a link, notes."""

    lead: str
    quote: str | None = None
    facts: tuple[tuple[str, str], ...] = ()
    link: tuple[str, str] | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Person:
    """The contact as a mail shows them."""

    name: str | None
    phone: str
    consent: str
    zone: str
    zone_uncertain: bool
    location: str | None

    @property
    def display(self) -> str:
        """`Alice Smith (+1 415-555-0100)`, or the number alone."""
        return f"{self.name} ({self.phone})" if self.name else self.phone

    def local(self, at: datetime) -> str:
        """`Thu 12 Mar 2026, 11:00 AM PDT (America/Los_Angeles)`: `at` in their time."""
        there = local_time(self.zone, at)
        clock = there.strftime("%I:%M %p").lstrip("0")
        text = f"{there:%a %d %b %Y}, {clock} {there.tzname()} ({self.zone})"
        return text + ", zone uncertain" if self.zone_uncertain else text


def person(contact: Contact, *, default_zone: str) -> Person:
    """What mails say about a contact."""
    zone = resolve_zone(phone=contact.phone, stored=contact.timezone, default=default_zone)
    consent = _consent_words(contact.consent)
    if contact.consent_changed_at is not None:
        consent += f" since {contact.consent_changed_at:%d %b %Y}"
    name = (contact.name or "").strip() or None
    return Person(
        name=name,
        phone=international(contact.phone),
        consent=consent,
        zone=zone.primary,
        zone_uncertain=zone.uncertain,
        location=location_of(contact),
    )


def subject_for(who: Person) -> str:
    """One subject for every mail about a contact: mail clients thread on it too."""
    return f"SMS from {who.display}"


def text_facts(
    who: Person, *, received_at: datetime, business_number: str, num_media: int
) -> tuple[tuple[str, str], ...]:
    """Who sent a text, to which number, when in their time, consent and place."""
    facts = [
        ("From", who.display),
        ("To", international(business_number)),
        ("Sent", f"{who.local(received_at)} their time"),
        ("Consent", who.consent),
    ]
    if who.location:
        facts.append(("Location", who.location))
    if num_media:
        facts.append(("Pictures", f"{num_media}, in Slack"))
    return tuple(facts)


def customer_words(body: str) -> str:
    """The text as quoted; an MMS without words says so."""
    return body if body.strip() else "(no text)"


def render_text(body: Body) -> str:
    """The plain-text part."""
    lines = [body.lead, ""]
    if body.quote is not None:
        lines += [f"> {line}" if line else ">" for line in body.quote.splitlines() or [""]]
        lines.append("")
    if body.facts:
        width = max(len(label) for label, _ in body.facts) + 2
        lines += [f"{label + ':':<{width}}{value}" for label, value in body.facts]
        lines.append("")
    if body.link is not None:
        label, url = body.link
        lines += [f"{label}: {url}", ""]
    for note in (*body.notes, _FOOTER):
        lines += [note, ""]
    return "\n".join(lines).rstrip() + "\n"


def render_html(body: Body) -> str:
    """The HTML part; every piece of text is escaped."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html><body style="font-family: Helvetica, Arial, sans-serif; font-size: 14px;">',
        f"<p>{e(body.lead)}</p>",
    ]
    if body.quote is not None:
        parts.append(
            '<blockquote style="margin: 0 0 16px; padding: 8px 12px; '
            'border-left: 3px solid #c9c9c9; white-space: pre-wrap;">'
            f"{e(body.quote)}</blockquote>"
        )
    if body.facts:
        rows = "".join(
            f'<tr><td style="color: #616061; padding-right: 12px;">{e(label)}</td>'
            f"<td>{e(value)}</td></tr>"
            for label, value in body.facts
        )
        parts.append(f'<table style="border-collapse: collapse;">{rows}</table>')
    if body.link is not None:
        label, url = body.link
        parts.append(f'<p><a href="{e(url, quote=True)}">{e(label)}</a></p>')
    parts += [f"<p>{e(note)}</p>" for note in body.notes]
    parts.append(f'<p style="color: #616061; font-size: 12px;">{e(_FOOTER)}</p>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _consent_words(value: str) -> str:
    try:
        return _CONSENT_WORDS[Consent(value)]
    except ValueError:
        return value.replace("_", " ")
