"""What waits to be posted, per channel, and the channel's one backlog status message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from store.jobs import PENDING, SLACK_LANE
from store.models import BacklogStatus, Conversation, DeliveryJob

# /healthz lists this many channels at most, the deepest first.
_CHANNELS_SHOWN = 20


@dataclass(frozen=True)
class ChannelBacklog:
    """A channel's waiting posts: jobs, since when, and how many posts they still need."""

    channel: str
    pending: int
    oldest: datetime
    conversations: int
    new_threads: int

    @property
    def posts_needed(self) -> int:
        """Posts to clear it: a turn per conversation (its texts go together), a parent per new."""
        return self.conversations + self.new_threads


def channel_backlogs(session: Session, *, limit: int = _CHANNELS_SHOWN) -> list[ChannelBacklog]:
    """Channels with Slack jobs waiting (not held for quiet hours), the deepest first."""
    waiting = (
        select(
            DeliveryJob.channel,
            func.count(),
            func.min(DeliveryJob.created_at),
            func.count(func.distinct(DeliveryJob.conversation_id)),
        )
        .where(DeliveryJob.state == PENDING, DeliveryJob.lane == SLACK_LANE)
        .where(col(DeliveryJob.held_until).is_(None))
        .group_by(col(DeliveryJob.channel))
        .order_by(func.count().desc())
        .limit(limit)
    )
    rows = list(session.exec(waiting))
    if not rows:
        return []
    parentless = (
        select(DeliveryJob.channel, func.count(func.distinct(DeliveryJob.conversation_id)))
        .join(Conversation, col(Conversation.id) == col(DeliveryJob.conversation_id))
        .where(DeliveryJob.state == PENDING, DeliveryJob.lane == SLACK_LANE)
        .where(col(Conversation.parent_ts).is_(None))
        .where(col(DeliveryJob.channel).in_([row[0] for row in rows]))
        .group_by(col(DeliveryJob.channel))
    )
    new_threads = dict(session.exec(parentless).all())
    return [
        ChannelBacklog(
            channel=channel,
            pending=int(count),
            oldest=oldest,
            conversations=int(conversations),
            new_threads=int(new_threads.get(channel, 0)),
        )
        for channel, count, oldest, conversations in rows
    ]


def status_of(session: Session, channel: str) -> BacklogStatus | None:
    """The channel's status message record, if it ever had a backlog."""
    return session.get(BacklogStatus, channel, populate_existing=True)


def open_status(session: Session, *, channel: str, now: datetime, pending: int) -> bool:
    """Start a backlog's status record; False when another process did (or it is open). Commits."""
    status = status_of(session, channel)
    if status is None:
        session.add(BacklogStatus(channel=channel, started_at=now, updated_at=now, peak=pending))
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            return False
        return True
    if status.cleared_at is None:
        return False
    reopened = session.execute(
        update(BacklogStatus)
        .where(col(BacklogStatus.channel) == channel)
        .where(col(BacklogStatus.cleared_at).is_not(None))
        .values(ts=None, started_at=now, updated_at=now, cleared_at=None, peak=pending)
    )
    session.commit()
    return int(reopened.rowcount) == 1  # type: ignore[attr-defined]


def claim_update(session: Session, *, channel: str, now: datetime, before: datetime) -> bool:
    """Take the turn to refresh the status message (last refreshed before `before`). Commits.

    With several processes, exactly one wins each turn, so the message is not edited twice.
    """
    claimed = session.execute(
        update(BacklogStatus)
        .where(col(BacklogStatus.channel) == channel)
        .where(col(BacklogStatus.updated_at) <= before)
        .values(updated_at=now)
    )
    session.commit()
    return int(claimed.rowcount) == 1  # type: ignore[attr-defined]


def open_statuses(session: Session) -> list[BacklogStatus]:
    """Status records of backlogs not yet marked cleared."""
    return list(session.exec(select(BacklogStatus).where(col(BacklogStatus.cleared_at).is_(None))))
