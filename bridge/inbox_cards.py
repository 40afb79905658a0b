"""What the inbox adds to a thread: the header's state, reminders and earlier messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class ThreadState:
    """The inbox state a thread header shows: unread, who claimed it, overdue, resolved."""

    conversation_id: int
    unread: bool = False
    claimed_by: str | None = None
    resolved_by: str | None = None
    # When the customer's unanswered wait began, once a reminder was posted for it.
    overdue_since: datetime | None = None
    # The thread of the earlier, resolved conversation this one continues.
    previous_link: str | None = None
    # Why earlier messages are missing from the thread.
    note: str | None = None


class Speaker(StrEnum):
    """Who wrote a message of the transcript."""

    CUSTOMER = "inbound"
    AGENT = "agent"
    AUTOMATED = "automated"


@dataclass(frozen=True)
class TranscriptLine:
    """One earlier message; `author` is the chat user of an agent's reply."""

    at: datetime
    speaker: Speaker
    body: str
    num_media: int = 0
    author: str | None = None


@dataclass(frozen=True)
class Transcript:
    """Earlier messages with the contact, oldest first, posted once in a new thread."""

    lines: tuple[TranscriptLine, ...]
    # Why part of the history is missing (the provider's log could not be read).
    note: str | None = None


@dataclass(frozen=True)
class Reminder:
    """The customer has waited too long; `mention` is a chat user or group ID, or `here`."""

    waiting_since: datetime
    minutes: int
    mention: str | None = None
