"""The inbox tables: each conversation's entry, what agents did, who has the Home tab open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from store.models import Contact, Conversation, HomeViewer, InboxAction, InboxEntry, Message


def entry_of(session: Session, *, conversation: Conversation, at: datetime) -> InboxEntry:
    """The conversation's entry, created (not yet flushed) when it has none."""
    assert conversation.id is not None
    entry = session.get(InboxEntry, conversation.id)
    if entry is None:
        entry = InboxEntry(
            conversation_id=conversation.id, contact_id=conversation.contact_id, updated_at=at
        )
        session.add(entry)
    return entry


def record(
    session: Session,
    *,
    conversation_id: int,
    actor: str,
    action: str,
    at: datetime,
    detail: str | None = None,
) -> None:
    """Add to the log of what agents did to a conversation."""
    session.add(
        InboxAction(
            conversation_id=conversation_id, actor=actor, action=action, detail=detail, at=at
        )
    )


def actions_of(session: Session, *, conversation_id: int) -> list[InboxAction]:
    """What agents did to a conversation, oldest first."""
    query = (
        select(InboxAction)
        .where(InboxAction.conversation_id == conversation_id)
        .order_by(col(InboxAction.id))
    )
    return list(session.exec(query))


def last_resolved(
    session: Session, *, contact_id: int, business_number: str
) -> Conversation | None:
    """The contact's most recent resolved conversation with this business number."""
    query = (
        select(Conversation)
        .where(Conversation.contact_id == contact_id)
        .where(Conversation.business_number == business_number)
        .where(Conversation.status == "resolved")
        .order_by(col(Conversation.id).desc())
    )
    return session.exec(query).first()


@dataclass(frozen=True)
class InboxRow:
    """One conversation as the inbox lists it."""

    entry: InboxEntry
    conversation: Conversation
    contact: Contact
    last_text: Message | None


def recent(session: Session, *, limit: int) -> list[InboxRow]:
    """The conversations with the latest customer texts, newest first (uses the index)."""
    return [InboxRow(*row) for row in session.exec(recent_query(limit=limit))]


def recent_query(*, limit: int) -> Select[InboxEntry, Conversation, Contact, Message]:
    """The Home tab's query, on its own so its plan can be looked at."""
    return (
        select(InboxEntry, Conversation, Contact, Message)
        .join(Conversation, col(Conversation.id) == col(InboxEntry.conversation_id))
        .join(Contact, col(Contact.id) == col(InboxEntry.contact_id))
        .outerjoin(Message, col(Message.id) == col(InboxEntry.last_text_id))
        .where(col(InboxEntry.last_text_at).is_not(None))
        .where(col(InboxEntry.superseded).is_(False))
        .order_by(col(InboxEntry.last_text_at).desc())
        .limit(limit)
    )


def find(session: Session, *, phone: str | None, name: str | None, limit: int) -> list[InboxRow]:
    """Conversations of contacts with this number, or whose name contains `name`."""
    query = (
        select(InboxEntry, Conversation, Contact, Message)
        .join(Conversation, col(Conversation.id) == col(InboxEntry.conversation_id))
        .join(Contact, col(Contact.id) == col(InboxEntry.contact_id))
        .outerjoin(Message, col(Message.id) == col(InboxEntry.last_text_id))
        .where(col(InboxEntry.superseded).is_(False))
        .order_by(col(InboxEntry.last_text_at).desc())
        .limit(limit)
    )
    if phone is not None:
        query = query.where(Contact.phone == phone)
    else:
        pattern = "%" + (name or "").replace("\\", "").replace("%", "").replace("_", "") + "%"
        query = query.where(col(Contact.name).ilike(pattern))
    return [InboxRow(*row) for row in session.exec(query)]


def save_permalink(session: Session, *, conversation_id: int, link: str) -> None:
    """Cache a thread's link (Slack's permalinks do not change)."""
    session.execute(
        update(InboxEntry)
        .where(col(InboxEntry.conversation_id) == conversation_id)
        .values(permalink=link[:300])
    )


@dataclass(frozen=True)
class Stats:
    """How the inbox did over a period."""

    conversations: int
    response_seconds: list[float]
    overdue: int


def stats(session: Session, *, since: datetime, overdue_before: datetime) -> Stats:
    """Conversations started since `since`, their first-response times, and who waits now."""
    started = select(InboxEntry.first_text_at, InboxEntry.first_response_at).where(
        col(InboxEntry.first_text_at) >= since
    )
    rows = list(session.exec(started))
    seconds = [(answered - asked).total_seconds() for asked, answered in rows if asked and answered]
    waiting = (
        select(func.count())
        .select_from(InboxEntry)
        .where(col(InboxEntry.waiting_since) <= overdue_before)
        .where(col(InboxEntry.resolved_at).is_(None))
    )
    return Stats(len(rows), sorted(seconds), int(session.exec(waiting).one()))


def opened_home(session: Session, *, user_id: str, at: datetime) -> None:
    """Note that `user_id` has the Home tab open now."""
    viewer = session.get(HomeViewer, user_id)
    if viewer is None:
        session.add(HomeViewer(user_id=user_id, opened_at=at))
    else:
        viewer.opened_at = at
        session.add(viewer)


def stale_viewers(session: Session, *, open_since: datetime, before: datetime) -> list[HomeViewer]:
    """People who opened the Home tab since `open_since` whose view predates a change."""
    changed = select(func.max(InboxEntry.updated_at)).scalar_subquery()
    query = (
        select(HomeViewer)
        .where(col(HomeViewer.opened_at) >= open_since)
        .where(or_(col(HomeViewer.published_at).is_(None), col(HomeViewer.published_at) < changed))
        .where(or_(col(HomeViewer.published_at).is_(None), col(HomeViewer.published_at) < before))
    )
    return list(session.exec(query))


def take_viewer(session: Session, *, user_id: str, seen: datetime | None, at: datetime) -> bool:
    """Claim publishing for a viewer last published at `seen` (one process wins); commits."""
    taken = session.execute(
        update(HomeViewer)
        .where(col(HomeViewer.user_id) == user_id)
        .where(
            col(HomeViewer.published_at).is_(None)
            if seen is None
            else col(HomeViewer.published_at) == seen
        )
        .values(published_at=at)
    )
    session.commit()
    return int(taken.rowcount) == 1  # type: ignore[attr-defined]


def release_viewer(
    session: Session, *, user_id: str, taken_at: datetime, previous: datetime | None
) -> None:
    """Undo a claim whose publish failed, so the tab counts as stale again; commits."""
    session.execute(
        update(HomeViewer)
        .where(col(HomeViewer.user_id) == user_id)
        .where(col(HomeViewer.published_at) == taken_at)
        .values(published_at=previous)
    )
    session.commit()
