"""The tables: contacts, their consent history, conversations, messages and the delivery queue."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint
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
    # For a reply: Twilio's status over all its parts, and the one its Slack reaction shows.
    delivery_status: str | None = Field(default=None, max_length=20)
    status_shown: str | None = Field(default=None, max_length=20)

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
        # Finding each lane's first pending job reads this index alone.
        Index("ix_delivery_job_heads", "state", "contact_id", "lane", "id"),
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


class MediaItem(SQLModel, table=True):
    """A picture or file of a message: one a customer sent by MMS, or one an agent shared.

    Inbound: `source_url` is Twilio's media URL, `slack_file_id` the file uploaded to the
    thread. Outbound: `slack_file_id` is the agent's file; `content` is served to Twilio at
    `/media/{token}` until `expires_at`.
    """

    __tablename__ = "media_item"
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    direction: str = Field(max_length=10)
    position: int = 0
    source_url: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    slack_file_id: str | None = Field(default=None, max_length=32, index=True)
    filename: str | None = Field(default=None, max_length=200)
    content_type: str | None = Field(default=None, max_length=100)
    size: int | None = None
    # pending, done, refused (never tried again) or failed (gave up).
    state: str = Field(default="pending", max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    token: str | None = Field(default=None, max_length=64, unique=True)
    expires_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    content: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_when())

    __table_args__ = (
        UniqueConstraint("message_id", "direction", "position", name="uq_media_item_position"),
    )


class InboxEntry(SQLModel, table=True):
    """A conversation's place in the inbox: unread, claim, resolution and the customer's wait.

    A wait starts with a customer text when none is open and ends with an authorised reply;
    `reminded_for` and `bumped_for` hold the wait already reminded or broadcast, so each
    happens at most once per wait however often its job runs.
    """

    __tablename__ = "inbox_entry"
    conversation_id: int = Field(foreign_key="conversation.id", primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    # The latest conversation text (keywords excluded): what the Home tab sorts and previews.
    last_text_id: int | None = Field(default=None, foreign_key="message.id")
    last_text_at: datetime | None = Field(default=None, sa_column=_when(nullable=True, index=True))
    unread: bool = False
    waiting_since: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    reminded_for: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    bumped_for: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    bump_message_id: int | None = Field(default=None, foreign_key="message.id")
    claimed_by: str | None = Field(default=None, max_length=32)
    claimed_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    resolved_by: str | None = Field(default=None, max_length=32)
    resolved_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    # The contact's earlier, resolved conversation this one continues; superseded: a newer one
    # continues this one, so the Home tab shows only the newer.
    previous_id: int | None = Field(default=None, foreign_key="conversation.id")
    superseded: bool = False
    first_text_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    first_response_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    permalink: str | None = Field(default=None, max_length=300)
    # Why the thread could not show earlier messages (the provider's log was unavailable).
    history_note: str | None = Field(default=None, max_length=200)
    # Earlier messages were found for the new thread and are to be posted after its header.
    history_due: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_when(index=True))


class InboxAction(SQLModel, table=True):
    """Append-only record of what agents did to a conversation: read, claim, take over, resolve."""

    __tablename__ = "inbox_action"
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    actor: str = Field(max_length=32)
    action: str = Field(max_length=20)
    # For a take-over: whose claim it was.
    detail: str | None = Field(default=None, max_length=100)
    at: datetime = Field(default_factory=utcnow, sa_column=_when())


class HomeViewer(SQLModel, table=True):
    """Someone who opened the app's Home tab, and when it was last published for them."""

    __tablename__ = "home_viewer"
    user_id: str = Field(primary_key=True, max_length=32)
    opened_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    published_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))


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


class ChannelPace(SQLModel, table=True):
    """A shared send budget (a Slack channel, or a sending number), as GCRA state.

    Times are Unix seconds on the wall clock, so every process reads the same budget.
    `tat` is the budget's theoretical arrival time; a send may go once `ready_at` has passed
    (`tat` less the burst allowance), and not before `paused_until` (a 429's Retry-After).
    """

    __tablename__ = "channel_pace"
    key: str = Field(primary_key=True, max_length=40)
    tat: float = 0.0
    ready_at: float = 0.0
    paused_until: float | None = None


class BacklogStatus(SQLModel, table=True):
    """The one status message a channel shows while its backlog lasts, updated in place."""

    __tablename__ = "backlog_status"
    channel: str = Field(primary_key=True, max_length=32)
    ts: str | None = Field(default=None, max_length=32)
    started_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    cleared_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    peak: int = 0


class WebhookIntake(SQLModel, table=True):
    """A verified webhook stored raw before its ack, until the intake processor has applied it.

    Rows are deleted in the transaction that applies them, so the table holds only the backlog
    (and parked rows that failed too often, kept for the operator).
    """

    __tablename__ = "webhook_intake"
    __table_args__ = (Index("ix_webhook_intake_order", "order_key", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    # "twilio:<MessageSid>" or "slack:<event_id>": a retry of the same webhook is stored once.
    key: str = Field(max_length=140, unique=True)
    source: str = Field(max_length=10)
    # Rows with the same key here are applied one at a time, in arrival (id) order.
    order_key: str = Field(max_length=200)
    payload: str = Field(default="", sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=_when())
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    parked_at: datetime | None = Field(default=None, sa_column=_when(nullable=True))
    error: str | None = Field(default=None, max_length=300)
