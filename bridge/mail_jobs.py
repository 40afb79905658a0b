"""Running the mail jobs: forwards, Slack fallbacks and the configuration alert.

A mail that the server takes completes its job; a server that is down or answers 4xx makes
the worker try again with backoff (MailUnavailable); a 5xx refusal finishes the job with the
refusal kept as its last error (MailRefused). A retried mail keeps its Message-ID, so a mail
client shows a copy that went out twice (a crash between the server's 250 and our commit) once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlmodel import Session, col, select

from bridge.config import Settings
from bridge.forwarding import (
    ALERT_LANE,
    CONFIG_ALERT,
    FALLBACK_TEXT,
    FORWARD_CONSENT,
    FORWARD_TEXT,
    ChatTrouble,
    consent_change_of,
    mail_sender,
)
from bridge.inbound import POST_TEXT
from bridge.mail import (
    Mail,
    MailTransport,
    SmtpMailer,
    SmtpServer,
    build_message,
    domain_of,
    message_id,
    thread_root_id,
)
from bridge.mail_content import (
    Body,
    Person,
    customer_words,
    person,
    render_html,
    render_text,
    subject_for,
    text_facts,
)
from bridge.ports import PermanentFailure
from store import jobs
from store.models import Contact, Conversation, DeliveryJob, Message

log = logging.getLogger(__name__)

# While Slack stays misconfigured, the alert is repeated once a day, not once per text.
ALERT_EVERY = timedelta(hours=24)
_ALERT_MARK = "alert:"


class ThreadLinks(Protocol):
    """Links to messages in the chat service; best effort."""

    def link(self, channel: str, ts: str) -> str | None:
        """A URL that opens the message (in its thread), or None when there is none now."""


Explain = Callable[[str | None, str], ChatTrouble]


class MailJobs:
    """The runner for every mail job kind."""

    def __init__(
        self,
        *,
        settings: Settings,
        transport: MailTransport | None,
        links: ThreadLinks,
        explain: Explain,
    ) -> None:
        self._settings = settings
        self._transport = transport
        self._links = links
        self._explain = explain
        self._sender = mail_sender(settings) or "smsbridge@localhost"
        self._domain = domain_of(self._sender)

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        """Do the job's work; the worker commits and marks it done."""
        if self._transport is None:
            log.warning("mail job %s (%s) dropped: SMTP_URL is not set", job.id, job.kind)
            return
        if job.kind == CONFIG_ALERT:
            self._alert(session, job, now)
            return
        message = session.get(Message, job.message_id)
        contact = session.get(Contact, job.contact_id)
        if message is None or contact is None:
            return
        if job.kind == FORWARD_TEXT:
            self._forward_text(session, job, message, contact, now)
        elif job.kind == FORWARD_CONSENT:
            self._forward_consent(session, job, message, contact, now)
        elif job.kind == FALLBACK_TEXT:
            self._fallback(session, job, message, contact, now)

    # -- the kinds -------------------------------------------------------------------------

    def _forward_text(
        self, session: Session, job: DeliveryJob, message: Message, contact: Contact, now: datetime
    ) -> None:
        who = self._person(contact)
        notes: list[str] = []
        link = self._thread_link(session, message)
        if message.slack_ts is None:
            trouble = self._trouble(session, message)
            notes.append(f"Not in Slack yet: {trouble.summary}.")
            if trouble.fix:
                notes.append(f"What to fix: {trouble.fix}")
        body = Body(
            lead=f"{who.display} texted you:",
            quote=customer_words(message.body),
            facts=self._facts(who, message),
            link=link,
            notes=tuple(notes),
        )
        mail = self._mail(who, body, local=f"text.{_message_key(message)}", contact=contact)
        self._send(job, mail, self._settings.forward_to, now)

    def _forward_consent(
        self, session: Session, job: DeliveryJob, message: Message, contact: Contact, now: datetime
    ) -> None:
        change = consent_change_of(session, message)
        if change is None:
            return
        who = self._person(contact)
        word = message.keyword or message.body.strip()
        now_words = _consent_words(change.consent)
        body = Body(
            lead=f"{who.display} texted {word}: now {now_words}.",
            facts=(
                ("From", who.display),
                ("Sent", f"{who.local(message.created_at)} their time"),
                ("Consent", f"{now_words} (was {_consent_words(change.previous)})"),
            ),
            link=self._thread_link(session, message),
        )
        mail = self._mail(who, body, local=f"consent.{_message_key(message)}", contact=contact)
        self._send(job, mail, self._settings.forward_to, now)

    def _fallback(
        self, session: Session, job: DeliveryJob, message: Message, contact: Contact, now: datetime
    ) -> None:
        if message.slack_ts is not None:
            return  # Slack has it: nothing to fall back on.
        post = _job_for(session, POST_TEXT, message)
        if post is None or post.state == jobs.DONE:
            return  # never meant for Slack, or the job is over and the thread shows the rest.
        trouble = self._trouble(session, message)
        if trouble.key is not None:
            self._queue_alert(session, job, trouble.key, now)
        recipients = [
            r for r in self._settings.fallback_to if r not in self._forwarded(session, message)
        ]
        if not recipients:
            return  # each of them has the forward of this text, which said it was not in Slack.
        who = self._person(contact)
        waited = _duration(now - message.created_at)
        notes = [
            "smsbridge keeps the text and posts it in the customer's Slack thread once Slack "
            "takes it. This is the only email about this text, however long Slack is out."
        ]
        if trouble.fix:
            notes.insert(0, f"What to fix: {trouble.fix}")
        body = Body(
            lead=f"Not in Slack after {waited}: {trouble.summary}. {who.display} texted:",
            quote=customer_words(message.body),
            facts=self._facts(who, message),
            notes=tuple(notes),
        )
        mail = self._mail(who, body, local=f"fallback.{_message_key(message)}", contact=contact)
        self._send(job, mail, recipients, now)

    def _alert(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        conversation = _conversation(session, job.conversation_id)
        channel = conversation.channel if conversation else (self._settings.slack_channel or "")
        trouble = self._explain(job.channel.removeprefix(_ALERT_MARK), channel)
        after = self._settings.fallback_after_seconds
        body = Body(
            lead=f"smsbridge cannot post customers' texts to Slack: {trouble.summary}.",
            facts=(("Noticed", f"{job.created_at:%d %b %Y %H:%M} UTC"),),
            notes=(
                f"What to fix: {trouble.fix or 'see the service log.'}",
                "No text is lost meanwhile: each is kept and posted to Slack once this is "
                f"fixed, and a text that waits longer than {after} seconds is emailed here.",
                "This alert is sent once a day while the problem lasts.",
            ),
        )
        mail = Mail(
            subject=f"smsbridge cannot post to Slack: {trouble.summary}",
            text=render_text(body),
            html=render_html(body),
            message_id=message_id(f"alert.{job.id}.{job.created_at:%Y%m%d%H%M%S}", self._domain),
        )
        self._send(job, mail, self._settings.fallback_to, now)

    # -- helpers ---------------------------------------------------------------------------

    def _queue_alert(self, session: Session, job: DeliveryJob, key: str, now: datetime) -> None:
        """One configuration alert per problem and day, however many texts wait on it."""
        marker = f"{_ALERT_MARK}{key}"[:32]
        recent = session.exec(
            select(DeliveryJob.id)
            .where(DeliveryJob.kind == CONFIG_ALERT)
            .where(DeliveryJob.channel == marker)
            .where(col(DeliveryJob.created_at) > now - ALERT_EVERY)
        ).first()
        if recent is not None:
            return
        jobs.enqueue(
            session,
            kind=CONFIG_ALERT,
            contact_id=job.contact_id,
            channel=marker,
            conversation_id=job.conversation_id,
            lane=ALERT_LANE,
            at=now,
        )
        # Kept even if this fallback's own mail has to be tried again.
        session.commit()
        log.warning("Slack refuses posts (%s): queued a configuration alert", key)

    def _send(self, job: DeliveryJob, mail: Mail, recipients: Sequence[str], now: datetime) -> None:
        if not recipients:
            return
        assert self._transport is not None
        message = build_message(mail, sender=self._sender, to=recipients, date=now)
        receipt = self._transport.send(message, recipients)
        log.info(
            "job %s (%s) mailed to %d recipient(s): %s",
            job.id,
            job.kind,
            len(receipt.accepted),
            receipt.reply,
        )
        if receipt.refused:
            refused = "; ".join(f"{address}: {why}" for address, why in receipt.refused.items())
            # Finished, with the refusal kept on the job for people to see.
            raise PermanentFailure(f"mailed, but the mail server refused {refused}")

    def _mail(self, who: Person, body: Body, *, local: str, contact: Contact) -> Mail:
        return Mail(
            subject=subject_for(who),
            text=render_text(body),
            html=render_html(body),
            message_id=message_id(local, self._domain),
            thread_root=thread_root_id(contact.phone, self._domain),
        )

    def _person(self, contact: Contact) -> Person:
        return person(contact, default_zone=self._settings.default_timezone)

    def _facts(self, who: Person, message: Message) -> tuple[tuple[str, str], ...]:
        return text_facts(
            who,
            received_at=message.created_at,
            business_number=message.to_number,
            num_media=message.num_media,
        )

    def _thread_link(self, session: Session, message: Message) -> tuple[str, str] | None:
        conversation = _conversation(session, message.conversation_id)
        if conversation is None:
            return None
        if message.slack_ts:
            url = self._links.link(conversation.channel, message.slack_ts)
        elif conversation.parent_ts:
            url = self._links.link(conversation.channel, conversation.parent_ts)
        else:
            return None
        if url is None or not url.startswith(("https://", "http://")):
            return None
        return ("Open the conversation in Slack", url)

    def _trouble(self, session: Session, message: Message) -> ChatTrouble:
        conversation = _conversation(session, message.conversation_id)
        channel = conversation.channel if conversation else ""
        return self._explain(_slack_error(session, message), channel)

    def _forwarded(self, session: Session, message: Message) -> frozenset[str]:
        """Who already has this text by forward mail."""
        forward = _job_for(session, FORWARD_TEXT, message)
        if forward is None or forward.state != jobs.DONE or forward.last_error:
            return frozenset()
        return frozenset(self._settings.forward_to)


def _conversation(session: Session, conversation_id: int | None) -> Conversation | None:
    return session.get(Conversation, conversation_id) if conversation_id is not None else None


def _job_for(session: Session, kind: str, message: Message) -> DeliveryJob | None:
    query = select(DeliveryJob).where(DeliveryJob.kind == kind)
    return session.exec(query.where(DeliveryJob.message_id == message.id)).first()


def _slack_error(session: Session, message: Message) -> str | None:
    """Why Slack has not taken the text: its own job's error, or that of the job it waits on."""
    post = _job_for(session, POST_TEXT, message)
    if post is not None and post.last_error:
        return post.last_error
    head = session.exec(
        select(DeliveryJob.last_error)
        .where(DeliveryJob.contact_id == message.contact_id)
        .where(DeliveryJob.lane == jobs.SLACK_LANE)
        .where(DeliveryJob.state == jobs.PENDING)
        .where(col(DeliveryJob.last_error).is_not(None))
        .order_by(col(DeliveryJob.id))
    ).first()
    return head


def _message_key(message: Message) -> str:
    """Unique across databases: the Twilio SID, else our id and the time it came."""
    return message.twilio_sid or f"m{message.id}.{message.created_at:%Y%m%d%H%M%S}"


def _consent_words(value: str) -> str:
    return {
        "subscribed": "subscribed to SMS",
        "unsubscribed": "unsubscribed from SMS",
        "never_subscribed": "never subscribed to SMS",
    }.get(value, value.replace("_", " "))


def _duration(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} seconds"
    if seconds < 2 * 3600:
        return f"{seconds // 60} minutes"
    return f"{seconds // 3600} hours"


def mail_runners(
    settings: Settings,
    *,
    links: ThreadLinks,
    explain: Explain,
    transport: MailTransport | None = None,
) -> dict[str, MailJobs]:
    """The runner of every mail job kind, sending through `SMTP_URL` unless told otherwise."""
    sender = mail_sender(settings)
    if sender is None:
        if settings.forward_to or settings.fallback_to:
            log.warning("FORWARD_TO or FALLBACK_TO is set but SMTP_URL is not: no mail is sent")
    elif not settings.email_from:
        log.warning("EMAIL_FROM is not set: mail is sent from %s", sender)
    if transport is None and sender is not None and settings.smtp_url:
        transport = SmtpMailer(SmtpServer.from_url(settings.smtp_url), sender=sender)
    runner = MailJobs(settings=settings, transport=transport, links=links, explain=explain)
    return dict.fromkeys((FORWARD_TEXT, FORWARD_CONSENT, FALLBACK_TEXT, CONFIG_ALERT), runner)
