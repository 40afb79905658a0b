"""Combining a conversation's waiting texts into one post: floods, and backlogs.

Flood control: a number sending more than FLOOD_LIMIT texts a minute gets one post a minute.
Nothing is dropped: every text is stored as it arrives; past the limit its post waits for the
next minute boundary, and then all of the number's waiting texts go in one post, in order.
Automatic answers to it stop while it floods, and its thread is told once per flood.

Backlog: when Slack's budget cannot keep up (a campaign's replies), a conversation's turn
posts every text it has waiting, in one post, in order, each with its time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, func, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from bridge.cards import CustomerText
from bridge.consent import looks_like_opt_out
from store.models import Message

WINDOW = timedelta(minutes=1)
POSTED = "posted"


@dataclass(frozen=True)
class Backlog:
    """A channel falls behind Slack's budget once `jobs` posts wait in it, and stays behind
    until fewer than `until` do: the end of a burst, its longest-waiting texts, goes combined
    too, where it would otherwise go one post per text."""

    jobs: int
    until: int


@dataclass(frozen=True)
class Flood:
    """A contact is flooding: post its texts at `post_at`; `started` for the first text over."""

    post_at: datetime
    started: bool


def flood_at(session: Session, *, contact_id: int, at: datetime, limit: int | None) -> Flood | None:
    """Whether the contact's texts in the minute up to `at` (stored ones) exceed `limit`."""
    if limit is None:
        return None
    params = {"contact_id": contact_id, "since": at - WINDOW, "at": at}
    count = int(session.exec(_TEXTS_IN_WINDOW, params=params).one())
    if count <= limit:
        return None
    boundary = at.replace(second=0, microsecond=0) + WINDOW
    return Flood(post_at=boundary, started=count == limit + 1)


# Built once: it runs for every inbound text, and building it costs more than running it.
_TEXTS_IN_WINDOW = (
    select(func.count())
    .select_from(Message)
    .where(col(Message.contact_id) == bindparam("contact_id"), col(Message.direction) == "inbound")
    .where(col(Message.created_at) > bindparam("since"), col(Message.created_at) <= bindparam("at"))
)


def flood_note(limit: int) -> str:
    """What the thread is told when a number starts flooding."""
    return (
        f"This number sent more than {limit} texts in a minute: its texts are combined into one "
        "post per minute, and automatic answers to it are paused while it keeps on."
    )


def waiting_texts(session: Session, message: Message, now: datetime) -> list[Message]:
    """The texts to post together with `message`, itself first, in the order they came.

    A batch once attempted is the same batch on every retry (its members share the attempt's
    time), so a post whose answer was lost is never split or doubled.
    """
    if message.slack_ts is not None:
        return [message]
    if combined_earlier(message):
        return []
    query = (
        select(Message)
        .where(Message.conversation_id == message.conversation_id)
        .where(Message.direction == "inbound", Message.kind == "text")
        .where(col(Message.slack_ts).is_(None), col(Message.id) >= message.id)
        .where(Message.status != POSTED)
        .order_by(col(Message.id))
    )
    event = _next_event_id(session, message)
    if event is not None:
        # A keyword or an automatic answer shows in the thread between texts: keep that order.
        query = query.where(col(Message.id) < event)
    if message.slack_attempted_at is not None:
        query = query.where(Message.slack_attempted_at == message.slack_attempted_at)
        return list(session.exec(query))
    members = list(session.exec(query.where(col(Message.created_at) <= now)))
    ids = [m.id for m in members[1:]]
    if ids:
        # Committed with the first text's attempt, just before the post (bridge/delivery.py):
        # committing here would expire the rows the post is about to be built from.
        session.execute(
            update(Message)
            .where(col(Message.id).in_(ids))
            .values(slack_attempted_at=now)
            .execution_options(synchronize_session=False)
        )
        for member in members[1:]:
            set_committed_value(member, "slack_attempted_at", now)
    return members


def backlogged(session: Session, message: Message, now: datetime) -> bool:
    """Whether later texts of the conversation wait unposted behind this one (a backlog)."""
    query = (
        select(Message.id)
        .where(Message.conversation_id == message.conversation_id)
        .where(Message.direction == "inbound", Message.kind == "text")
        .where(col(Message.id) > message.id, col(Message.slack_ts).is_(None))
        .where(Message.status != POSTED, col(Message.created_at) <= now)
    )
    event = _next_event_id(session, message)
    if event is not None:
        query = query.where(col(Message.id) < event)
    return session.exec(query.limit(1)).first() is not None


def _next_event_id(session: Session, message: Message) -> int | None:
    """The next message of the conversation that shows as an event (keyword, auto answer)."""
    query = (
        select(func.min(Message.id))
        .where(Message.conversation_id == message.conversation_id)
        .where(col(Message.id) > message.id, col(Message.kind).in_(_EVENT_KINDS))
    )
    return session.exec(query).one()


_EVENT_KINDS = ("keyword", "auto")


def in_attempted_batch(session: Session, message: Message) -> bool:
    """Whether an attempt whose answer was lost may have posted this text with later ones.

    Such a batch stays a batch on its retry, whatever the backlog is by then: posted alone,
    the text's post would be found, but the others would go again.
    """
    if message.slack_ts is not None or message.slack_attempted_at is None:
        return False
    query = (
        select(Message.id)
        .where(Message.conversation_id == message.conversation_id)
        .where(col(Message.id) > message.id, col(Message.slack_ts).is_(None))
        .where(Message.slack_attempted_at == message.slack_attempted_at)
    )
    return session.exec(query.limit(1)).first() is not None


def combined_earlier(message: Message) -> bool:
    """Whether the text was shown in the post of an earlier text of its batch.

    Such a text has no Slack ts of its own (a Slack message is one row), only the status.
    """
    return message.slack_ts is None and message.status == POSTED


def combined(members: list[Message], *, flag: bool) -> CustomerText:
    """One post showing every text of the batch, in order; `flag`: offer Mark unsubscribed."""
    first = members[0]
    flagged = next((m.id for m in members if flag and looks_like_opt_out(m.body)), None)
    if len(members) == 1:
        return CustomerText(first.body, first.created_at, first.num_media, flagged)
    lines = [f"[{m.created_at:%H:%M:%S}] {m.body}" for m in members]
    return CustomerText(
        "\n".join(lines),
        first.created_at,
        sum(m.num_media for m in members),
        possible_opt_out_of=flagged,
    )


def settle(session: Session, members: list[Message]) -> None:
    """The rest of a batch follows its first text: posted with it, or waiting again."""
    if not members:
        return
    first = members[0]
    for member in members[1:]:
        member.slack_attempted_at = first.slack_attempted_at
        if first.slack_ts is not None:
            member.status = POSTED
        session.add(member)
    session.commit()
