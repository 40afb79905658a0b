"""The inbox list as people see it (Home tab, `/sms inbox`, `/sms find`), chat-neutral."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bridge.config import Settings
from bridge.consent import Consent
from bridge.localtime import local_time, quiet_check_for, resolve_zone
from bridge.phones import international
from store.inbox import InboxRow


@dataclass(frozen=True)
class InboxItem:
    """One conversation in the inbox list."""

    conversation_id: int
    name: str
    phone: str
    consent: Consent
    local_now: datetime
    zone: str
    quiet: bool
    preview: str
    last_text_at: datetime | None
    unread: bool
    claimed_by: str | None
    overdue: bool
    resolved: bool
    channel: str
    thread_ts: str | None
    link: str | None


def item_of(row: InboxRow, *, settings: Settings, now: datetime) -> InboxItem:
    """An inbox row as it reads at `now`."""
    contact, entry, conversation = row.contact, row.entry, row.conversation
    zone = resolve_zone(
        phone=contact.phone, stored=contact.timezone, default=settings.default_timezone
    )
    waited = entry.waiting_since
    sla = timedelta(minutes=settings.response_sla_minutes)
    phone = international(contact.phone)
    return InboxItem(
        conversation_id=entry.conversation_id,
        name=contact.name or phone,
        phone=phone,
        consent=Consent(contact.consent),
        local_now=local_time(zone.primary, now),
        zone=zone.primary,
        # The same verdict that holds a reply: every zone, the state's rules.
        quiet=not quiet_check_for(
            contact, policy=settings.quiet_policy, default_zone=settings.default_timezone, now=now
        ).allowed,
        preview=row.last_text.body if row.last_text is not None else "",
        last_text_at=entry.last_text_at,
        unread=entry.unread,
        claimed_by=entry.claimed_by,
        overdue=waited is not None and now - waited >= sla and entry.resolved_at is None,
        resolved=conversation.status == "resolved",
        channel=conversation.channel,
        thread_ts=conversation.parent_ts,
        link=entry.permalink,
    )


def age(since: datetime | None, now: datetime) -> str:
    """`just now`, `5 min`, `3 h`, `2 d`: how long ago."""
    if since is None:
        return ""
    seconds = max((now - since).total_seconds(), 0)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"
