"""Accepting an inbound text: store it and its delivery job in one transaction."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bridge.auto_texts import keyword_answer, queue_auto_text, queue_autoresponse
from bridge.config import Settings
from bridge.consent import (
    TWILIO_OPT_OUT_TYPES,
    Keyword,
    KeywordAction,
    KeywordMatcher,
    Source,
)
from bridge.flood import flood_at
from bridge.forwarding import queue_mail
from bridge.ids import MessageSid
from bridge.inbound_media import queue_media_upload
from bridge.inbox import on_activity, on_customer_text, on_new_conversation, reopen
from bridge.phones import masked, parse_e164
from store import contacts, conversations, jobs
from store.models import Contact, Conversation, Message

log = logging.getLogger(__name__)

POST_TEXT, POST_EVENT, UPDATE_CARD = "post_text", "post_event", "update_card"
FLOOD_NOTE = "flood_note"
# A consent change made outside a text (Slack, Twilio errors): an event and a new header.
CONSENT_EVENT = "consent_event"


@dataclass(frozen=True)
class InboundText:
    """An inbound SMS/MMS as Twilio describes it."""

    sid: MessageSid
    sender: str
    to: str
    body: str
    num_media: int = 0
    opt_out_type: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    # (MediaUrlN, MediaContentTypeN) of an MMS.
    media: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Accepted:
    """What became of an inbound text."""

    message_id: int
    duplicate: bool
    keyword: Keyword | None = None


def sender_key(raw: str) -> str:
    """How a sender is stored: E.164 when it is a phone number, else as given (short codes)."""
    return parse_e164(raw) or raw.strip()


def accept(session: Session, *, settings: Settings, text: InboundText, at: datetime) -> Accepted:
    """Store the text and what must be posted, idempotently on the Twilio SID."""
    existing = conversations.message_id_by_sid(session, sid=text.sid)
    if existing is not None:
        return Accepted(existing, duplicate=True)
    try:
        accepted = _store(session, settings=settings, text=text, at=at)
        session.commit()
    except IntegrityError:
        # A concurrent retry of the same webhook stored it first.
        session.rollback()
        existing = conversations.message_id_by_sid(session, sid=text.sid)
        if existing is None:
            raise
        return Accepted(existing, duplicate=True)
    return accepted


def _store(session: Session, *, settings: Settings, text: InboundText, at: datetime) -> Accepted:
    contact = contacts.get_or_create_contact(session, phone=sender_key(text.sender), at=at)
    assert contact.id is not None
    location_changed = _update_location(contact, text)
    matcher = KeywordMatcher(
        settings.opt_out_keywords, settings.opt_in_keywords, settings.help_keywords
    )
    keyword = matcher.match(text.body, text.opt_out_type)
    conversation = conversations.open_conversation(
        session, contact_id=contact.id, business_number=text.to
    )
    if conversation is None and keyword is None:
        conversation = reopen(
            session, settings=settings, contact_id=contact.id, business_number=text.to, at=at
        )
    message = Message(
        contact_id=contact.id,
        conversation_id=conversation.id if conversation else None,
        direction="inbound",
        kind="keyword" if keyword else "text",
        keyword=keyword.word[:40] if keyword else None,
        body=text.body,
        twilio_sid=text.sid,
        from_number=contact.phone,
        to_number=text.to,
        num_media=text.num_media,
        created_at=at,
        updated_at=at,
    )
    if keyword is None and conversation is None:
        conversation = conversations.start_conversation(
            session,
            contact_id=contact.id,
            business_number=text.to,
            channel=_channel_for(settings, text.to),
            at=at,
        )
        on_new_conversation(session, conversation=conversation, at=at)
        message.conversation_id = conversation.id
    session.add(message)
    session.flush()
    assert message.id is not None
    flood = flood_at(session, contact_id=contact.id, at=at, limit=settings.flood_limit)
    if keyword is not None:
        _keyword_effects(session, settings, contact, conversation, message, keyword, text, at)
    elif flood is None:
        # Decided by the worker: it costs the webhook one row instead of four.
        queue_autoresponse(session, settings, contact, conversation, message, at=at)
    if conversation is not None:
        conversation.last_message_at = at
        session.add(conversation)
        if keyword is None:
            on_customer_text(session, settings=settings, conversation=conversation, message=message)
        else:
            on_activity(session, conversation=conversation, at=at)
        if flood is not None and flood.started:
            jobs.enqueue_in_thread(session, kind=FLOOD_NOTE, conversation=conversation, at=at)
        kind = POST_EVENT if keyword else POST_TEXT
        jobs.enqueue(
            session,
            kind=kind,
            contact_id=contact.id,
            channel=conversation.channel,
            conversation_id=conversation.id,
            message_id=message.id,
            at=at,
            # A flooding number's texts go with the rest of this minute's.
            due=flood.post_at if flood is not None and not keyword else None,
        )
        if text.media and not keyword:
            queue_media_upload(
                session, message=message, conversation=conversation, media=text.media, at=at
            )
        if location_changed and not keyword:
            jobs.enqueue(
                session,
                kind=UPDATE_CARD,
                contact_id=contact.id,
                channel=conversation.channel,
                conversation_id=conversation.id,
                at=at,
            )
    queue_mail(session, settings=settings, message=message, at=at)
    log.info("inbound %s from %s stored as %s", text.sid, masked(contact.phone), message.kind)
    return Accepted(message.id, duplicate=False, keyword=keyword)


def _keyword_effects(
    session: Session,
    settings: Settings,
    contact: Contact,
    conversation: Conversation | None,
    message: Message,
    keyword: Keyword,
    text: InboundText,
    at: datetime,
) -> None:
    """Consent changes at once; an opt-out stops what waits to be sent; answers are queued."""
    if keyword.consent is not None:
        by_twilio = (text.opt_out_type or "").strip().upper() in TWILIO_OPT_OUT_TYPES
        contacts.change_consent(
            session,
            contact=contact,
            consent=keyword.consent.value,
            source=Source.TWILIO_OPT_OUT_TYPE if by_twilio else Source.KEYWORD,
            detail=keyword.word,
            cause=text.sid,
            message_id=message.id,
            at=at,
        )
    if keyword.action is KeywordAction.OPT_OUT:
        # Waiting replies run now, to be refused and their authors told, not sent.
        assert contact.id is not None
        jobs.hurry(session, contact_id=contact.id, lane=jobs.SMS_LANE, at=at)
        return
    answer = keyword_answer(settings, keyword, opt_out_type=text.opt_out_type)
    if answer:
        queue_auto_text(
            session,
            contact=contact,
            business_number=text.to,
            conversation=conversation,
            body=answer,
            prompted_by=keyword.word,
            at=at,
        )


def _channel_for(settings: Settings, business_number: str) -> str:
    channel = settings.channel_for(business_number)
    if channel is not None:
        return channel
    if not settings.is_business_number(business_number):
        log.warning(
            "text to %s, which is neither in ROUTES nor TWILIO_FROM: posting to SLACK_CHANNEL",
            masked(business_number),
        )
    assert settings.slack_channel is not None
    return settings.slack_channel


def _update_location(contact: Contact, text: InboundText) -> bool:
    fields = {"city": text.city, "state": text.state, "zip": text.zip, "country": text.country}
    changed = False
    for name, value in fields.items():
        if value and getattr(contact, name) != value:
            setattr(contact, name, value)
            changed = True
    return changed
