"""Which mails an inbound text calls for, queued in the transaction that stores it.

- A conversation text is forwarded to `FORWARD_TO`, a few seconds later so that the mail can
  link to the text in Slack.
- A conversation text is watched: if it is not in Slack after `FALLBACK_AFTER_SECONDS`, it
  is mailed to `FALLBACK_TO` with the reason.
- A keyword text that changed the contact's consent is forwarded as a consent change; other
  keyword texts (HELP, a STOP from someone already unsubscribed) are not.

The mails go through the durable queue in lanes of their own, so that a slow mail server
never holds up Slack or SMS, and a fallback waiting its time never holds up a forward. The
queue's unique (kind, message) pair makes each of them happen once per text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from bridge.config import Settings
from bridge.mail import SmtpServer, addr_spec
from store import jobs
from store.models import ConsentChange, Message

FORWARD_TEXT, FORWARD_CONSENT = "mail_text", "mail_consent"
FALLBACK_TEXT, CONFIG_ALERT = "mail_fallback", "mail_alert"
MAIL_LANE, FALLBACK_LANE, ALERT_LANE = "mail", "mail_wait", "mail_alert"
# What mail jobs are paused by when the mail server cannot be reached.
MAIL_CHANNEL = "mail"
# How long a forward waits for its text to be in Slack, so the mail can link to it.
LINK_WAIT_SECONDS = 5


@dataclass(frozen=True)
class ChatTrouble:
    """Why a text is not in the chat service, for people.

    `key` is set when no retry helps until someone fixes something (a revoked token, a bot
    not in its channel): the configuration alert is sent once per key and day.
    """

    summary: str
    fix: str | None = None
    key: str | None = None


def mail_configured(settings: Settings) -> bool:
    """Whether mail can be sent at all."""
    return mail_sender(settings) is not None


def mail_sender(settings: Settings) -> str | None:
    """Who mail is from: EMAIL_FROM; without it the SMTP login when that is an address (as
    many providers require), else `smsbridge@` the SMTP host. None without SMTP_URL."""
    if not settings.smtp_url:
        return None
    if settings.email_from:
        return settings.email_from
    server = SmtpServer.from_url(settings.smtp_url)
    for candidate in (server.username or "", f"smsbridge@{server.host}"):
        try:
            return addr_spec(candidate)
        except ValueError:
            continue
    return "smsbridge@localhost"


def queue_mail(session: Session, *, settings: Settings, message: Message, at: datetime) -> None:
    """Queue the mails a just-stored inbound text calls for (none when mail is not set up)."""
    if not mail_configured(settings) or message.direction != "inbound" or message.id is None:
        return
    if message.kind == "text":
        if settings.forward_to:
            wait = min(LINK_WAIT_SECONDS, settings.fallback_after_seconds)
            _enqueue(
                session, FORWARD_TEXT, MAIL_LANE, message, at, due=at + timedelta(seconds=wait)
            )
        if settings.fallback_to and message.conversation_id is not None:
            due = at + timedelta(seconds=settings.fallback_after_seconds)
            _enqueue(session, FALLBACK_TEXT, FALLBACK_LANE, message, at, due=due)
    elif settings.forward_to and consent_change_of(session, message) is not None:
        _enqueue(session, FORWARD_CONSENT, MAIL_LANE, message, at, due=at)


def consent_change_of(session: Session, message: Message) -> ConsentChange | None:
    """The consent change a keyword text made, if it made one."""
    query = select(ConsentChange).where(ConsentChange.message_id == message.id)
    return session.exec(query.order_by(ConsentChange.id.desc())).first()  # type: ignore[union-attr]


def _enqueue(
    session: Session, kind: str, lane: str, message: Message, at: datetime, *, due: datetime
) -> None:
    assert message.id is not None
    jobs.enqueue(
        session,
        kind=kind,
        contact_id=message.contact_id,
        channel=MAIL_CHANNEL,
        conversation_id=message.conversation_id,
        message_id=message.id,
        lane=lane,
        at=at,
        due=due,
    )
