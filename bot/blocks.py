"""Block Kit for the contact header, customer texts and thread events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.escape import escape, truncate
from bot.inbox_blocks import render_inbox, thread_buttons, thread_state_blocks
from bridge.cards import ContactCard, CustomerText, PostContent, ThreadEvent
from bridge.consent import Consent
from bridge.consent_actions import HistoryLine
from bridge.inbox_cards import Reminder, Transcript

Blocks = list[dict[str, Any]]

# action_ids of the buttons bot/events.py listens to.
CONSENT_HISTORY = "consent_history"
MARK_UNSUBSCRIBED = "mark_unsubscribed"
SET_TIMEZONE = "set_timezone"
SEND_HELD_NOW, CANCEL_HELD = "send_held_now", "cancel_held"
TIMEZONE_BLOCK, TIMEZONE_INPUT = "timezone", "timezone_input"
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
    if isinstance(content, Transcript | Reminder):
        return render_inbox(content)
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
    blocks: Blocks = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":speech_balloon: {who}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f} for f in facts]},
        *thread_state_blocks(card.thread),
    ]
    if card.contact_id is not None:
        history = _button("Consent history", CONSENT_HISTORY, str(card.contact_id))
        zone = _button("Set time zone", SET_TIMEZONE, str(card.contact_id))
        blocks.append(
            {"type": "actions", "elements": [history, zone, *thread_buttons(card.thread)]}
        )
    return blocks


def consent_line(card: ContactCard) -> str:
    """Consent status, how it came to be and when: `Unsubscribed from SMS: texted STOP, …`."""
    line = _CONSENT_LABELS[card.consent]
    if card.consent_how:
        # "Subscribed to SMS via START", "Unsubscribed from SMS: texted STOP".
        via = card.consent is Consent.SUBSCRIBED and card.consent_how.startswith("texted ")
        how = card.consent_how.removeprefix("texted ") if via else card.consent_how
        line += f"{' via ' if via else ': '}{escape(how)}"
        if card.consent_by:
            line += f" by <@{card.consent_by}>"
    if card.consent_since is not None:
        joiner = ", " if card.consent_how else " since "
        line += f"{joiner}{slack_date(card.consent_since)}"
    return line


def local_time_line(card: ContactCard) -> str:
    """`Local time 5:02 AM PST (America/Los_Angeles) · quiet hours`."""
    return f":clock3: {_clock(card)}"


def _clock(card: ContactCard) -> str:
    clock = card.local_now.strftime("%I:%M %p").lstrip("0")
    text = f"Local time {clock} {card.local_now.tzname()} ({card.zone})"
    if card.zone_uncertain:
        text += ", zone uncertain"
    return text + " · quiet hours" if card.quiet else text


def _customer_text(text: CustomerText) -> tuple[str, Blocks]:
    body = escape(text.body) if text.body.strip() else "_(no text)_"
    if text.num_media:
        noun = "attachment" if text.num_media == 1 else "attachments"
        body += f"\n:paperclip: {text.num_media} {noun}"
    section = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": truncate(body, _SECTION_LIMIT), "verbatim": True},
    }
    blocks: Blocks = [section]
    if text.possible_opt_out_of is not None:
        note = ":warning: This may be a request to stop texting. Confirm to unsubscribe them."
        button = _button("Mark unsubscribed", MARK_UNSUBSCRIBED, str(text.possible_opt_out_of))
        button["style"] = "danger"
        button["confirm"] = {
            "title": {"type": "plain_text", "text": "Unsubscribe this customer?"},
            "text": {"type": "plain_text", "text": "No replies will go out until they text START."},
            "confirm": {"type": "plain_text", "text": "Unsubscribe"},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
        blocks.append({"type": "actions", "elements": [button]})
    return body, blocks


def held_blocks(text: str, reply_id: int) -> Blocks:
    """The private notice of a held reply, with Send now and Cancel."""
    send = _button("Send now", SEND_HELD_NOW, str(reply_id))
    send["confirm"] = {
        "title": {"type": "plain_text", "text": "Send during their quiet hours?"},
        "text": {"type": "plain_text", "text": "It will reach the customer at night."},
        "confirm": {"type": "plain_text", "text": "Send now"},
        "deny": {"type": "plain_text", "text": "Keep it held"},
    }
    cancel = _button("Cancel", CANCEL_HELD, str(reply_id))
    cancel["style"] = "danger"
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": f":hourglass_flowing_sand: {text}"}},
        {"type": "actions", "elements": [send, cancel]},
    ]


def timezone_modal(contact_id: int, current: str) -> dict[str, Any]:
    """The Set time zone dialog: an IANA zone name, checked when submitted."""
    return {
        "type": "modal",
        "callback_id": SET_TIMEZONE,
        "private_metadata": str(contact_id),
        "title": {"type": "plain_text", "text": "Set time zone"},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "blocks": [
            {
                "type": "input",
                "block_id": TIMEZONE_BLOCK,
                "label": {"type": "plain_text", "text": "The customer's time zone"},
                "hint": {
                    "type": "plain_text",
                    "text": "An IANA name such as America/Chicago or Europe/London.",
                },
                "element": {
                    "type": "plain_text_input",
                    "action_id": TIMEZONE_INPUT,
                    "initial_value": current,
                    "max_length": 64,
                },
            }
        ],
    }


def _button(label: str, action_id: str, value: str) -> dict[str, Any]:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": label},
        "action_id": action_id,
        "value": value,
    }


def _event(event: ThreadEvent) -> tuple[str, Blocks]:
    text = f":information_source: {escape(event.text)}"
    if event.by:
        text += f" (by <@{event.by}>)"
    return text, [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]


def slack_date(when: datetime) -> str:
    """A time Slack shows in each reader's own zone, e.g. `12 Mar 14:02`."""
    fallback = when.astimezone(UTC).strftime("%d %b %Y %H:%M UTC").lstrip("0")
    return f"<!date^{int(when.timestamp())}^{{date_short}} {{time}}|{fallback}>"


def history_text(name: str, lines: list[HistoryLine]) -> str:
    """The consent ledger of a contact, newest first, for the person who asked."""
    if not lines:
        return f"No consent changes recorded for {escape(name)}: never subscribed to SMS."
    rows = []
    for line in reversed(lines):
        by = f" by <@{line.actor}>" if line.actor else ""
        state = line.consent.replace("_", " ")
        was = line.previous.replace("_", " ")
        rows.append(f"• {slack_date(line.at)}: {state} (was {was}), {escape(line.how)}{by}")
    return f"*Consent history of {escape(name)}*\n" + "\n".join(rows)
