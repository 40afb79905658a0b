"""Texts smsbridge sends by itself: the autoresponder, START confirmations, HELP answers."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from bridge.config import Settings, fill_template
from bridge.consent import Consent, Keyword, KeywordAction
from bridge.reply_intake import sms_lane_key
from bridge.sms_text import split_sms
from store import jobs, replies
from store.models import Contact, Conversation, DeliveryJob, Message

SEND_AUTO, AUTORESPOND = "send_auto", "autorespond"
# Twilio's Advanced Opt-Out answers these keywords itself and tells us so in OptOutType.
_TWILIO_ANSWERS = {KeywordAction.OPT_IN: "START", KeywordAction.HELP: "HELP"}


def keyword_answer(settings: Settings, keyword: Keyword, *, opt_out_type: str | None) -> str | None:
    """What we answer a keyword with, if anything: opt-outs get nothing from us (the carrier
    and Twilio confirm), and nothing is said twice when Twilio answered already."""
    answered = (opt_out_type or "").strip().upper() == _TWILIO_ANSWERS.get(keyword.action)
    if keyword.action is KeywordAction.OPT_IN and not answered:
        return _fill(settings, settings.opt_in_text)
    if keyword.action is KeywordAction.HELP and not answered:
        return _fill(settings, settings.help_text)
    return None


def autoresponse(settings: Settings, contact: Contact, *, at: datetime) -> str | None:
    """The autoresponder's answer to a conversation text, if it applies to this contact now."""
    if settings.autorespond == "off" or contact.consent == Consent.UNSUBSCRIBED:
        return None
    if settings.autorespond == "non-consented" and contact.consent == Consent.SUBSCRIBED:
        return None
    cooldown = timedelta(hours=settings.autorespond_cooldown_hours)
    if contact.autoresponded_at is not None and at - contact.autoresponded_at < cooldown:
        return None  # two automated systems must never talk to each other forever
    return _fill(settings, settings.autorespond_text)


def queue_autoresponse(
    session: Session,
    settings: Settings,
    contact: Contact,
    conversation: Conversation | None,
    message: Message,
    *,
    at: datetime,
) -> None:
    """Ask the worker whether to answer a conversation text, when it might have to."""
    if autoresponse(settings, contact, at=at) is None:
        return
    assert contact.id is not None
    jobs.enqueue(
        session,
        kind=AUTORESPOND,
        contact_id=contact.id,
        channel=sms_lane_key(message.to_number),
        conversation_id=conversation.id if conversation else None,
        message_id=message.id,
        lane=jobs.SMS_LANE,
        at=at,
    )


class AutoResponder:
    """Runs AUTORESPOND jobs: one per contact's SMS lane at a time, so the cooldown holds."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        """Queue the answer unless the contact was answered within the cooldown meanwhile."""
        contact = session.get(Contact, job.contact_id)
        message = session.get(Message, job.message_id) if job.message_id else None
        if contact is None or message is None:
            return
        answer = autoresponse(self._settings, contact, at=now)
        conversation = (
            session.get(Conversation, job.conversation_id) if job.conversation_id else None
        )
        if answer and queue_auto_text(
            session,
            contact=contact,
            business_number=message.to_number,
            conversation=conversation,
            body=answer,
            prompted_by="autorespond",
            at=now,
        ):
            contact.autoresponded_at = now
            session.add(contact)
        session.commit()


def queue_auto_text(
    session: Session,
    *,
    contact: Contact,
    business_number: str,
    conversation: Conversation | None,
    body: str,
    prompted_by: str,
    at: datetime,
) -> Message | None:
    """Store an automatic text as its SMS parts with a send job, in the caller's transaction."""
    if not body or contact.consent == Consent.UNSUBSCRIBED:
        return None
    assert contact.id is not None
    message = Message(
        contact_id=contact.id,
        conversation_id=conversation.id if conversation else None,
        direction="outbound",
        kind="auto",
        keyword=prompted_by[:40],
        body=body,
        from_number=business_number,
        to_number=contact.phone,
        status="sending",
        created_at=at,
        updated_at=at,
    )
    session.add(message)
    session.flush()
    assert message.id is not None
    replies.add_parts(session, message=message, bodies=split_sms(body), at=at)
    jobs.enqueue(
        session,
        kind=SEND_AUTO,
        contact_id=contact.id,
        channel=sms_lane_key(business_number),
        conversation_id=conversation.id if conversation else None,
        message_id=message.id,
        lane=jobs.SMS_LANE,
        at=at,
    )
    return message


def _fill(settings: Settings, template: str) -> str | None:
    if not template:
        return None
    text = fill_template(
        template,
        organization_prefix=settings.organization_prefix,
        email=settings.support_email,
    )
    return text or None
