"""Block Kit for the inbox list: the App Home view and the `/sms inbox` message."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.escape import escape, truncate
from bot.inbox_blocks import Blocks, slack_date
from bridge.consent import Consent
from bridge.inbox_view import InboxItem, age

_PREVIEW_LIMIT = 150
_CONSENT = {
    Consent.SUBSCRIBED: ":large_green_circle: Subscribed",
    Consent.UNSUBSCRIBED: ":red_circle: Unsubscribed",
    Consent.NEVER_SUBSCRIBED: ":white_circle: Never subscribed",
}
UNREAD_DOT = ":large_blue_circle:"
READ_DOT = ":white_small_square:"


def home_view(items: list[InboxItem], *, now: datetime, read_only: str | None) -> dict[str, Any]:
    """The Home tab: newest conversations first; `read_only` says why there are no actions."""
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "SMS inbox"}},
    ]
    if read_only:
        blocks.append(_context([f":lock: {escape(read_only)}"]))
    blocks.append({"type": "divider"})
    blocks += item_blocks(items, now=now)
    blocks.append(_context([f"Updated {slack_date(now)}"]))
    return {"type": "home", "blocks": blocks}


def item_blocks(items: list[InboxItem], *, now: datetime) -> Blocks:
    """Two blocks per conversation: who and what they wrote, then the facts."""
    if not items:
        return [_context(["No conversations yet: texts from customers appear here."])]
    blocks: Blocks = []
    for item in items:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _headline(item)}})
        blocks.append(_context([" · ".join(_facts(item, now))]))
    return blocks


def inbox_text(items: list[InboxItem]) -> str:
    """Plain lines for notifications and clients without blocks."""
    if not items:
        return "No conversations yet."
    dots = {True: "(unread) ", False: ""}
    return "\n".join(f"{dots[i.unread]}{escape(i.name)}: {escape(_preview(i))}" for i in items)


def _headline(item: InboxItem) -> str:
    dot = UNREAD_DOT if item.unread else READ_DOT
    who = f"*{escape(item.name)}*"
    if item.name != item.phone:
        who += f"  {escape(item.phone)}"
    return f"{dot} {who}\n{escape(_preview(item)) or '_(no text)_'}"


def _preview(item: InboxItem) -> str:
    return truncate(" ".join(item.preview.split()), _PREVIEW_LIMIT)


def _facts(item: InboxItem, now: datetime) -> list[str]:
    clock = item.local_now.strftime("%I:%M %p").lstrip("0")
    time = f":clock3: {clock} {item.local_now.tzname()}"
    if item.quiet:
        time += " :zzz: quiet hours"
    facts = [_CONSENT[item.consent], time]
    if item.last_text_at is not None:
        facts.append(age(item.last_text_at, now))
    if item.resolved:
        facts.append(":white_check_mark: Resolved")
    elif item.claimed_by:
        facts.append(f"Claimed by <@{item.claimed_by}>")
    if item.overdue:
        facts.append(":alarm_clock: Overdue")
    if item.link:
        facts.append(f"<{item.link}|Open thread>")
    elif item.thread_ts:
        facts.append(f"in <#{item.channel}>")
    return facts


def _context(texts: list[str]) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts]}
