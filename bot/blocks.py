"""Block Kit for the contact header, customer texts and thread events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.escape import escape, truncate
from bridge.cards import ContactCard, CustomerText, PostContent, ThreadEvent
from bridge.consent import Consent

Blocks = list[dict[str, Any]]

# Slack caps a section's text at 3,000 characters and a message's `text` at 40,000.
_SECTION_LIMIT = 3000

_CONSENT_LABELS = {
    Consent.SUBSCRIBED: ":large_green_circle: Subscribed to SMS",
    Consent.UNSUBSCRIBED: ":red_circle: Unsubscribed from SMS",
    Consent.NEVER_SUBSCRIBED: ":white_circle: Never subscribed to SMS",
}


def render(content: PostContent) -> tuple[str, Blocks]:
    """The notification text and the blocks for a post."""
    if isinstance(content, ContactCard):
        return card_text(content), card_blocks(content)
    if isinstance(content, CustomerText):
        return _customer_text(content)
    return _event(content)


def card_text(card: ContactCard) -> str:
    """One line for notifications, search and clients that show no blocks."""
    parts = [f"SMS conversation with {escape(card.display_name)}"]
    if card.display_name != card.phone_display:
        parts.append(escape(card.phone_display))
    parts.append(_CONSENT_LABELS[card.consent].split(" ", 1)[1])
    parts.append(_clock(card))
    if card.location:
        parts.append(escape(card.location))
    return " · ".join(parts)


def card_blocks(card: ContactCard) -> Blocks:
    """The thread header: who, consent, local time, location."""
    who = f"*{escape(card.display_name)}*"
    if card.display_name != card.phone_display:
        who += f"  {escape(card.phone_display)}"
    facts = [consent_line(card), local_time_line(card)]
    if card.location:
        facts.append(f":round_pushpin: {escape(card.location)}")
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":speech_balloon: {who}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f} for f in facts]},
    ]


def consent_line(card: ContactCard) -> str:
    """Consent status, with when it last changed."""
    line = _CONSENT_LABELS[card.consent]
    if card.consent_since is not None:
        line += f" since {slack_date(card.consent_since)}"
    return line


def local_time_line(card: ContactCard) -> str:
    """Their local time with zone, e.g. `3:04 PM PST (America/Los_Angeles)`."""
    return f":clock3: {_clock(card)}"


def _clock(card: ContactCard) -> str:
    clock = card.local_now.strftime("%I:%M %p").lstrip("0")
    text = f"{clock} {card.local_now.tzname()} ({card.zone})"
    return text + ", zone uncertain" if card.zone_uncertain else text


def _customer_text(text: CustomerText) -> tuple[str, Blocks]:
    body = escape(text.body) if text.body.strip() else "_(no text)_"
    if text.num_media:
        noun = "attachment" if text.num_media == 1 else "attachments"
        body += f"\n:paperclip: {text.num_media} {noun}"
    section = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(body, _SECTION_LIMIT), "verbatim": True},
    }
    return body, [section]


def _event(event: ThreadEvent) -> tuple[str, Blocks]:
    text = f":information_source: {escape(event.text)}"
    return text, [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]


def slack_date(when: datetime) -> str:
    """A time Slack shows in each reader's own zone, e.g. `12 Mar 14:02`."""
    fallback = when.astimezone(UTC).strftime("%d %b %Y %H:%M UTC").lstrip("0")
    return f"<!date^{int(when.timestamp())}^{{date_short}} {{time}}|{fallback}>"
