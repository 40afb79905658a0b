"""What the chat side is asked to show, independent of Slack's markup."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bridge.consent import Consent
from bridge.inbox_cards import Reminder, ThreadState, Transcript


@dataclass(frozen=True)
class ContactCard:
    """The thread's first post: who the customer is, their consent and local time."""

    display_name: str
    phone_display: str
    consent: Consent
    consent_since: datetime | None
    local_now: datetime
    zone: str
    zone_uncertain: bool
    location: str | None
    # How consent got to where it is ("texted STOP", "imported"), and who, for a Slack change.
    consent_how: str | None = None
    consent_by: str | None = None
    contact_id: int | None = None
    # Inside quiet hours in their zone (all of them, when uncertain): replies are held.
    quiet: bool = False
    thread: ThreadState | None = None


@dataclass(frozen=True)
class CustomerText:
    """A conversation text from the customer, shown in the thread."""

    body: str
    received_at: datetime
    num_media: int
    # A conversation text that reads like a request to stop: a person confirms with a click.
    possible_opt_out_of: int | None = None


@dataclass(frozen=True)
class ThreadEvent:
    """Something that happened to the contact, shown in the thread but not a conversation."""

    text: str
    at: datetime
    # The chat user who did it, shown as a mention after the text.
    by: str | None = None


PostContent = ContactCard | CustomerText | ThreadEvent | Transcript | Reminder
