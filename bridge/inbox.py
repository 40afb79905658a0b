"""The inbox's rules: unread, the customer's wait, claim and resolve, reopening, the header."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlmodel import Session

from bridge.config import Settings
from bridge.inbox_cards import ThreadState
from store import inbox, jobs
from store.models import Conversation, InboxEntry, Message

# The job kind of the reminder after the SLA.
SLA_CHECK = "sla_check"
# Reminders wait until they are due: a lane of their own, or they would hold back texts.
TIMER_LANE = jobs.TIMER_LANE
RESOLVED = "resolved"
# bridge.inbound.UPDATE_CARD (which imports this module).
_UPDATE_CARD = "update_card"


def on_new_conversation(session: Session, *, conversation: Conversation, at: datetime) -> None:
    """A conversation was started: its entry (the earlier one it continues is found later)."""
    assert conversation.id is not None
    entry = InboxEntry(
        conversation_id=conversation.id, contact_id=conversation.contact_id, updated_at=at
    )
    session.add(entry)


def link_previous(session: Session, *, conversation: Conversation, at: datetime) -> InboxEntry:
    """Link a new conversation to the contact's resolved one it continues (by the worker)."""
    entry = inbox.entry_of(session, conversation=conversation, at=at)
    previous = inbox.last_resolved(
        session, contact_id=conversation.contact_id, business_number=conversation.business_number
    )
    if previous is not None and previous.id != conversation.id and entry.previous_id is None:
        entry.previous_id = previous.id
        earlier = inbox.entry_of(session, conversation=previous, at=at)
        earlier.superseded = True
        earlier.updated_at = at
        session.add(earlier)
    session.add(entry)
    return entry


def reopen(
    session: Session, *, settings: Settings, contact_id: int, business_number: str, at: datetime
) -> Conversation | None:
    """With RESOLVED_NEW_THREAD off, a text reopens the resolved conversation in its thread."""
    if settings.resolved_new_thread:
        return None
    conversation = inbox.last_resolved(
        session, contact_id=contact_id, business_number=business_number
    )
    if conversation is None or conversation.id is None:
        return None
    conversation.status = "open"
    session.add(conversation)
    entry = inbox.entry_of(session, conversation=conversation, at=at)
    entry.resolved_by = entry.resolved_at = None
    inbox.record(session, conversation_id=conversation.id, actor="customer", action="reopen", at=at)
    jobs.enqueue_in_thread(session, kind=_UPDATE_CARD, conversation=conversation, at=at)
    return conversation


def on_customer_text(
    session: Session, *, settings: Settings, conversation: Conversation, message: Message
) -> None:
    """A conversation text: unread, the wait (and its reminder) begins, maybe a broadcast."""
    at = message.created_at
    entry = inbox.entry_of(session, conversation=conversation, at=at)
    if not entry.unread and conversation.parent_ts:
        # The header said read: it must say unread again.
        jobs.enqueue_in_thread(session, kind=_UPDATE_CARD, conversation=conversation, at=at)
    entry.unread = True
    entry.last_text_id = message.id
    entry.last_text_at = at
    entry.first_text_at = entry.first_text_at or at
    entry.updated_at = at
    if entry.waiting_since is None:
        entry.waiting_since = at
        jobs.enqueue(
            session,
            kind=SLA_CHECK,
            lane=TIMER_LANE,
            contact_id=conversation.contact_id,
            channel=conversation.channel,
            conversation_id=conversation.id,
            message_id=message.id,
            at=at + timedelta(minutes=settings.response_sla_minutes),
        )
        if _thread_is_old(settings, conversation, at) and entry.bumped_for is None:
            entry.bumped_for = at
            entry.bump_message_id = message.id
    session.add(entry)


def _thread_is_old(settings: Settings, conversation: Conversation, at: datetime) -> bool:
    minutes = settings.bump_after_minutes
    return bool(minutes) and at - conversation.created_at >= timedelta(minutes=minutes)


def on_activity(session: Session, *, conversation: Conversation, at: datetime) -> None:
    """Something the Home tab shows changed (a keyword text, consent): refresh it."""
    entry = inbox.entry_of(session, conversation=conversation, at=at)
    entry.updated_at = at
    session.add(entry)


def broadcasts(session: Session, *, conversation_id: int, message_id: int | None) -> bool:
    """Whether this customer text is also shown in the channel (first of a wait, old thread)."""
    entry = session.get(InboxEntry, conversation_id)
    return entry is not None and message_id is not None and entry.bump_message_id == message_id


def on_authorised_reply(
    session: Session, *, conversation: Conversation, author: str, at: datetime
) -> None:
    """An authorised agent answered: read, and the customer's wait is over."""
    entry = inbox.entry_of(session, conversation=conversation, at=at)
    changed = entry.unread or entry.waiting_since is not None
    entry.first_response_at = entry.first_response_at or at
    _end_wait(entry, at)
    session.add(entry)
    if changed:
        jobs.enqueue_in_thread(session, kind=_UPDATE_CARD, conversation=conversation, at=at)


def _end_wait(entry: InboxEntry, at: datetime) -> None:
    entry.unread = False
    entry.waiting_since = None
    entry.reminded_for = None
    entry.bumped_for = None
    entry.updated_at = at


class Act(StrEnum):
    """What an agent asks of a conversation from its header."""

    READ = "read"
    CLAIM = "claim"
    RESOLVE = "resolve"


@dataclass(frozen=True)
class ActResult:
    """What became of an agent's request, and what to tell them."""

    changed: bool
    text: str


def act(
    session: Session, *, conversation_id: int, actor: str, what: Act, at: datetime
) -> ActResult:
    """Carry out `what` for an authorised agent; a stale request is answered with the state."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.id is None:
        return ActResult(False, "That conversation no longer exists.")
    entry = inbox.entry_of(session, conversation=conversation, at=at)
    if conversation.status == RESOLVED:
        return ActResult(False, _resolved_text(entry))
    result = _apply(entry, actor, what)
    if result.changed:
        detail = entry.claimed_by if what is Act.CLAIM else None
        inbox.record(
            session,
            conversation_id=conversation.id,
            actor=actor,
            action=what.value,
            at=at,
            detail=detail,
        )
        _finish(entry, conversation, actor, what, at)
        session.add_all([entry, conversation])
        jobs.enqueue_in_thread(session, kind=_UPDATE_CARD, conversation=conversation, at=at)
    session.commit()
    return result


def _apply(entry: InboxEntry, actor: str, act: Act) -> ActResult:
    if act is Act.READ:
        if not entry.unread:
            return ActResult(False, "This conversation is already read.")
        return ActResult(True, "Marked read.")
    if act is Act.CLAIM:
        if entry.claimed_by == actor:
            return ActResult(False, "You have already claimed this conversation.")
        if entry.claimed_by:
            return ActResult(True, f"You took this conversation over from <@{entry.claimed_by}>.")
        return ActResult(True, "You claimed this conversation.")
    return ActResult(
        True, "Resolved. If the customer texts again, their text opens the conversation again."
    )


def _finish(
    entry: InboxEntry, conversation: Conversation, actor: str, act: Act, at: datetime
) -> None:
    entry.updated_at = at
    if act is Act.READ:
        entry.unread = False
    elif act is Act.CLAIM:
        entry.claimed_by, entry.claimed_at = actor, at
    else:
        conversation.status = RESOLVED
        entry.resolved_by, entry.resolved_at = actor, at
        _end_wait(entry, at)


def _resolved_text(entry: InboxEntry) -> str:
    who = f" by <@{entry.resolved_by}>" if entry.resolved_by else ""
    return (
        f"This conversation was resolved{who} since; nothing was changed. "
        "A new text from the customer opens it again."
    )


def thread_state(session: Session, *, conversation: Conversation) -> ThreadState | None:
    """The header's inbox state for a conversation, None before it has an entry."""
    if conversation.id is None:
        return None
    entry = session.get(InboxEntry, conversation.id)
    if entry is None:
        return ThreadState(conversation.id)
    previous = session.get(InboxEntry, entry.previous_id) if entry.previous_id else None
    overdue = entry.waiting_since if entry.reminded_for is not None else None
    return ThreadState(
        conversation_id=conversation.id,
        unread=entry.unread,
        claimed_by=entry.claimed_by,
        resolved_by=entry.resolved_by if conversation.status == RESOLVED else None,
        overdue_since=overdue,
        previous_link=previous.permalink if previous else None,
        note=entry.history_note,
    )
