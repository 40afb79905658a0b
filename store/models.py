"""The tables: contacts, their consent history, conversations, messages and the delivery queue."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from store.types import UtcDateTime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def _when(*, nullable: bool = False, index: bool = False) -> Column[datetime]:
    return Column(UtcDateTime(), nullable=nullable, index=index)


class Contact(SQLModel, table=True):
    """A person who texts us, keyed by their number (E.164, or the sender ID as given)."""

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(max_length=32, unique=True)
    name: str | None = Field(default=None, max_length=200)
    consent: str = Field(default="never_subscribed", max_length=20)
    consent_changed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    timezone: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=100)
    state: str | None = Field(default=None, max_length=100)
    zip: str | None = Field(default=None, max_length=20)
    country: str | None = Field(default=None, max_length=8)
    # The last automatic answer, so there is at most one per cooldown (no bot-to-bot loops).
    autoresponded_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_when())


class ConsentChange(SQLModel, table=True):
    """One change of a contact's SMS consent and what caused it: the append-only ledger.

    `source` is `keyword`, `twilio-opt-out-type`, `twilio-error-21610`, `import` or `slack`;
    `actor` the Slack user for `slack`; `cause` the message SID or import line behind it.
    """

    __tablename__ = "consent_change"
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    consent: str = Field(max_length=20)
    previous: str = Field(max_length=20)
    source: str = Field(max_length=100)
    detail: str | None = Field(default=None, max_length=100)
    actor: str | None = Field(default=None, max_length=32)
    cause: str | None = Field(default=None, max_length=200)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    at: datetime = Field(default_factory=utcnow, sa_column=_when())


class Conversation(SQLModel, table=True):
    """A contact's thread in an inbox channel, for one business number."""

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    business_number: str = Field(max_length=32)
    channel: str = Field(max_length=32)
    parent_ts: str | None = Field(default=None, max_length=32)
    parent_attempted_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    status: str = Field(default="open", max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    last_message_at: datetime = Field(default_factory=utcnow, sa_column=_when())

    __table_args__ = (Index("ix_conversation_channel_parent", "channel", "parent_ts"),)


class Message(SQLModel, table=True):
    """A text in either direction; `kind` is `text` for conversation, `keyword` for events."""

    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id", index=True)
    direction: str = Field(max_length=10)
    kind: str = Field(default="text", max_length=10)
    keyword: str | None = Field(default=None, max_length=40)
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    twilio_sid: str | None = Field(default=None, max_length=64, unique=True)
    from_number: str = Field(max_length=32)
    to_number: str = Field(max_length=32)
    num_media: int = 0
    slack_ts: str | None = Field(default=None, max_length=32)
    slack_attempted_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    status: str = Field(default="received", max_length=20)
    # For an agent's reply: who wrote it in Slack (its ts is `slack_ts`).
    author: str | None = Field(default=None, max_length=32)
    # When the thread was told that an edit or deletion cannot recall the SMS.
    recall_noted_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    # A reply held for quiet hours: when it is due; and who chose to send it at once anyway.
    held_until: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    send_now_by: str | None = Field(default=None, max_length=32)

    __table_args__ = (
        # A Slack message is stored once however often Slack delivers its event.
        UniqueConstraint("conversation_id", "slack_ts", name="uq_message_conversation_slack_ts"),
    )


class OutboundSms(SQLModel, table=True):
    """One SMS sent for a reply (a long reply is sent as several, in `part` order)."""

    __tablename__ = "outbound_sms"
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    part: int = 0
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    to_number: str = Field(max_length=32)
    from_number: str = Field(max_length=32)
    twilio_sid: str | None = Field(default=None, max_length=64, unique=True)
    # Set before calling Twilio: an attempt without a SID is reconciled, never blindly repeated.
    attempted_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    status: str = Field(default="pending", max_length=20)
    error_code: int | None = None
    error_message: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_when())

    __table_args__ = (UniqueConstraint("message_id", "part", name="uq_outbound_sms_part"),)


class ReplyAudit(SQLModel, table=True):
    """Append-only record of every reply decision: who, which contact, what, why, when."""

    __tablename__ = "reply_audit"
    id: int | None = Field(default=None, primary_key=True)
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    author: str = Field(max_length=32)
    decision: str = Field(max_length=20)
    reason: str = Field(max_length=500)
    at: datetime = Field(default_factory=utcnow, sa_column=_when())


class DeliveryJob(SQLModel, table=True):
    """Durable work for the delivery workers; per contact, jobs run strictly in id order."""

    __tablename__ = "delivery_job"
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=30)
    # Jobs of one contact run in order within a lane; Slack posts never wait for SMS sends.
    lane: str = Field(default="slack", max_length=10)
    contact_id: int = Field(foreign_key="contact.id")
    conversation_id: int | None = Field(default=None, foreign_key="conversation.id")
    message_id: int | None = Field(default=None, foreign_key="message.id")
    consent_change_id: int | None = Field(default=None, foreign_key="consent_change.id")
    channel: str = Field(max_length=32)
    state: str = Field(default="pending", max_length=20)
    attempts: int = 0
    dispatch_time: datetime = Field(default_factory=utcnow, sa_column=_when())
    locked_until: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    locked_by: str | None = Field(default=None, max_length=100)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    completed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    # Set while the job waits out quiet hours: until it is due it holds back no later job.
    held_until: datetime | None = Field(default=None, sa_column=_when(nullable=True))

    __table_args__ = (
        Index("ix_delivery_job_due", "state", "dispatch_time"),
        Index("ix_delivery_job_contact_state", "contact_id", "lane", "state"),
        UniqueConstraint("kind", "message_id", name="uq_delivery_job_kind_message"),
    )


class TimezoneChange(SQLModel, table=True):
    """An agent set a contact's time zone: who, when, from what."""

    __tablename__ = "timezone_change"
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    timezone: str = Field(max_length=64)
    previous: str | None = Field(default=None, max_length=64)
    actor: str = Field(max_length=32)
    at: datetime = Field(default_factory=utcnow, sa_column=_when())


class ErasedNumber(SQLModel, table=True):
    """A forgotten contact's number, hashed, with the consent it had: never text an opt-out."""

    __tablename__ = "erased_number"
    id: int | None = Field(default=None, primary_key=True)
    number_hash: str = Field(max_length=64, unique=True)
    consent: str = Field(max_length=20)
    erased_at: datetime = Field(default_factory=utcnow, sa_column=_when())


class PrivacyLog(SQLModel, table=True):
    """Append-only record of erasures: `forget` of one contact, or a `retention` purge."""

    __tablename__ = "privacy_log"
    id: int | None = Field(default=None, primary_key=True)
    action: str = Field(max_length=20)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    actor: str = Field(max_length=64)
    detail: str = Field(max_length=500)
    at: datetime = Field(default_factory=utcnow, sa_column=_when(index=True))
