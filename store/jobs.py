"""The durable delivery queue: jobs are claimed with a lease and run in order per contact."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, bindparam, case, exists, func, insert, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from store import pace
from store.models import Conversation, DeliveryJob, InboxEntry
from store.types import UtcDateTime

PENDING, DONE, PARKED = "pending", "done", "parked"
SLACK_LANE, SMS_LANE = "slack", "sms"
# Jobs that wait on purpose until they are due (reminders): not a backlog.
TIMER_LANE = "timer"


def enqueue(
    session: Session,
    *,
    kind: str,
    contact_id: int,
    channel: str,
    at: datetime,
    conversation_id: int | None = None,
    message_id: int | None = None,
    consent_change_id: int | None = None,
    lane: str = SLACK_LANE,
    due: datetime | None = None,
) -> None:
    """Add a job in the caller's transaction, so it commits with the data it delivers; it
    may run from `due` (default `at`).

    `channel` is what the job is paced and paused by: a Slack channel, or a sending number.
    """
    # An INSERT, not an ORM object: every inbound text queues two or three jobs, and the
    # object and its flush cost several times the statement (issue 9, G2).
    values = {
        "kind": kind,
        "lane": lane,
        "contact_id": contact_id,
        "channel": channel,
        "conversation_id": conversation_id,
        "message_id": message_id,
        "consent_change_id": consent_change_id,
        "dispatch_time": due or at,
        "created_at": at,
    }
    session.connection().execute(_INSERT_JOB, values)


_INSERT_JOB = insert(DeliveryJob.__table__)  # type: ignore[attr-defined]


def enqueue_in_thread(
    session: Session,
    *,
    kind: str,
    conversation: Conversation,
    at: datetime,
    message_id: int | None = None,
    consent_change_id: int | None = None,
) -> None:
    """A Slack-lane job about a conversation's thread, paced by its channel."""
    assert conversation.id is not None
    enqueue(
        session,
        kind=kind,
        contact_id=conversation.contact_id,
        channel=conversation.channel,
        conversation_id=conversation.id,
        message_id=message_id,
        consent_change_id=consent_change_id,
        at=at,
    )


def claim_next(
    session: Session,
    *,
    now: datetime,
    worker: str,
    lease: timedelta,
    pace_now: float | None = None,
    unpaced_kinds: Collection[str] = (),
) -> DeliveryJob | None:
    """Lease the next due job that heads its contact's lane; None when nothing is due.

    Agents' active threads go first; then conversations take turns by their oldest waiting
    job, and since a turn posts everything a conversation has waiting, one that keeps texting
    goes to the back of the line (round-robin). `pace_now` (wall-clock seconds): skip jobs
    whose channel or number has no send in its shared budget at that time, except jobs of
    `unpaced_kinds` (they send nothing).
    """
    query = _claim_query(paced=pace_now is not None, unpaced=tuple(sorted(unpaced_kinds)))
    params = {"now": now, "pace_now": pace_now}
    candidate = session.exec(query, params=params).first()
    if candidate is None:
        return None
    claimed = session.execute(
        update(DeliveryJob)
        .where(col(DeliveryJob.id) == candidate.id)
        # Another process may have claimed and finished it since the SELECT (finishing clears
        # the lease): only a job still pending is taken.
        .where(col(DeliveryJob.state) == PENDING)
        .where(or_(col(DeliveryJob.locked_until).is_(None), col(DeliveryJob.locked_until) < now))
        .values(locked_until=now + lease, locked_by=worker)
    )
    session.commit()
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(candidate)
    return candidate


_JOB = aliased(DeliveryJob)


@functools.cache
def _claim_query(*, paced: bool, unpaced: tuple[str, ...] = ()) -> SelectOfScalar[DeliveryJob]:
    """The claim's SELECT, built once: it runs for every job, and building it costs more."""
    job, now = _JOB, bindparam("now", type_=UtcDateTime())
    # Each contact's lane runs in order: only its first pending job may go. A job held for
    # quiet hours lets later ones pass until it is due (then it heads its lane again, so
    # replies still go in the order they were written).
    heads = (
        select(func.min(DeliveryJob.id))
        .where(DeliveryJob.state == PENDING)
        .where(or_(col(DeliveryJob.held_until).is_(None), col(DeliveryJob.dispatch_time) <= now))
        .group_by(col(DeliveryJob.contact_id), col(DeliveryJob.lane))
    )
    query = (
        select(job)
        .where(col(job.id).in_(heads))
        .where(col(job.dispatch_time) <= now)
        .where(or_(col(job.locked_until).is_(None), col(job.locked_until) < now))
        .order_by(case((_active_thread(job), 0), else_=1), col(job.dispatch_time), col(job.id))
        .limit(1)
    )
    if paced:
        ready = ~pace.not_ready(col(job.channel), bindparam("pace_now"))
        query = query.where(or_(col(job.kind).in_(unpaced), ready) if unpaced else ready)
    return query


def _active_thread(job: type[DeliveryJob]) -> ColumnElement[bool]:
    """An agent took up the job's conversation (claimed or answered it), not yet resolved."""
    return exists(
        select(InboxEntry.conversation_id)
        .where(col(InboxEntry.conversation_id) == job.conversation_id)
        .where(col(InboxEntry.resolved_at).is_(None))
        .where(
            or_(
                col(InboxEntry.claimed_by).is_not(None),
                col(InboxEntry.first_response_at).is_not(None),
            )
        )
    )


def unlease(session: Session, *, job: DeliveryJob) -> None:
    """Give a claimed job back untouched: its budget had no send, it keeps its place. Commits."""
    job.locked_until = None
    job.locked_by = None
    session.add(job)
    session.commit()


def complete(
    session: Session, *, job: DeliveryJob, now: datetime, error: str | None = None
) -> None:
    """Mark a job done; call in the transaction that records its effect.

    `error`: why it could not be done at all, kept for people to see (a permanent refusal).
    """
    job.state = DONE
    job.completed_at = now
    job.locked_until = None
    job.last_error = error[:500] if error else None
    session.add(job)


def complete_all(
    session: Session, *, kind: str, message_ids: Collection[int], now: datetime
) -> int:
    """Mark the pending `kind` jobs of these messages done (their work was done with another)."""
    if not message_ids:
        return 0
    result = session.execute(
        update(DeliveryJob)
        .where(col(DeliveryJob.kind) == kind, col(DeliveryJob.message_id).in_(list(message_ids)))
        .where(col(DeliveryJob.state) == PENDING)
        .values(state=DONE, completed_at=now, locked_until=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def park(session: Session, *, job: DeliveryJob, now: datetime, error: str) -> None:
    """Set aside a job that keeps failing: kept with its reason, it blocks nothing behind it."""
    job.state = PARKED
    job.attempts += 1
    job.completed_at = now
    job.locked_until = None
    job.locked_by = None
    job.last_error = error[:500]
    session.add(job)


def latest_parked(session: Session, *, conversation_id: int) -> DeliveryJob | None:
    """The conversation's most recently parked job."""
    query = (
        select(DeliveryJob)
        .where(DeliveryJob.conversation_id == conversation_id, DeliveryJob.state == PARKED)
        .order_by(col(DeliveryJob.id).desc())
    )
    return session.exec(query).first()


def postpone(session: Session, *, job: DeliveryJob, until: datetime) -> None:
    """Hold a job until `until` (quiet hours) without holding back the jobs behind it."""
    job.dispatch_time = until
    job.held_until = until
    job.locked_until = None
    job.locked_by = None
    session.add(job)


def release_now(session: Session, *, kind: str, message_id: int, at: datetime) -> bool:
    """Make a held job due at `at` (send now); False when there is none pending."""
    result = session.execute(
        update(DeliveryJob)
        .where(col(DeliveryJob.kind) == kind, col(DeliveryJob.message_id) == message_id)
        .where(col(DeliveryJob.state) == PENDING)
        .values(dispatch_time=at)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


def retry(session: Session, *, job: DeliveryJob, at: datetime, error: str) -> None:
    """Put a job back to run again at `at`, keeping why it failed."""
    job.attempts += 1
    job.held_until = None  # a failing job keeps its place in line while it backs off
    job.dispatch_time = at
    job.locked_until = None
    job.locked_by = None
    job.last_error = error[:500]
    session.add(job)
    session.commit()


def release_all_locks(session: Session) -> int:
    """Free every lease; only safe when no other process can be working (SQLite)."""
    return _release(session, col(DeliveryJob.locked_until).is_not(None))


def release_locks_of(session: Session, *, worker: str) -> int:
    """Free the leases `worker` holds (between jobs it holds none: any it has is stale)."""
    return _release(session, col(DeliveryJob.locked_by) == worker)


def release_locks_of_dead_workers(
    session: Session, *, host: str, pid: int, alive: Callable[[int], bool]
) -> int:
    """Free leases held by earlier processes on this host that are gone.

    Workers name themselves `host:pid:nonce`. A lease of ours with our own pid belongs to an
    earlier incarnation (a restarted container reuses pids); one whose pid is dead is stale.
    """
    holders = session.exec(
        select(DeliveryJob.locked_by)
        .where(DeliveryJob.state == PENDING)
        .where(col(DeliveryJob.locked_by).startswith(f"{host}:"))
        .distinct()
    ).all()
    stale = []
    for holder in holders:
        assert holder is not None
        holder_pid = holder.split(":")[1]
        if holder_pid.isdecimal() and (int(holder_pid) == pid or not alive(int(holder_pid))):
            stale.append(holder)
    return _release(session, col(DeliveryJob.locked_by).in_(stale)) if stale else 0


def _release(session: Session, which: ColumnElement[bool]) -> int:
    result = session.execute(
        update(DeliveryJob)
        .where(col(DeliveryJob.state) == PENDING)
        .where(which)
        .values(locked_until=None, locked_by=None)
    )
    session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]


def next_dispatch_time(session: Session) -> datetime | None:
    """When the earliest pending job becomes due."""
    query = select(func.min(DeliveryJob.dispatch_time)).where(DeliveryJob.state == PENDING)
    return session.exec(query).one()


def next_held_time(session: Session) -> datetime | None:
    """When the earliest job held for quiet hours falls due."""
    query = (
        select(func.min(DeliveryJob.dispatch_time))
        .where(DeliveryJob.state == PENDING)
        .where(col(DeliveryJob.held_until).is_not(None))
    )
    return session.exec(query).one()


@dataclass(frozen=True)
class QueueStats:
    """How much is waiting and since when."""

    pending: int
    oldest: datetime | None
    parked: int = 0


def queue_stats(session: Session) -> QueueStats:
    """Pending jobs, the creation time of the oldest, and how many were parked.

    Reminders and replies held for quiet hours wait by design: they are not a backlog.
    """
    query = (
        select(func.count(), func.min(DeliveryJob.created_at))
        .where(DeliveryJob.state == PENDING)
        .where(DeliveryJob.lane != TIMER_LANE)
        .where(col(DeliveryJob.held_until).is_(None))
    )
    count, oldest = session.exec(query).one()
    parked = session.exec(select(func.count()).where(DeliveryJob.state == PARKED)).one()
    return QueueStats(pending=int(count), oldest=oldest, parked=int(parked))


def queue_reaches(session: Session, *, channel: str, lane: str, at: datetime, count: int) -> bool:
    """Whether `count` or more jobs of `lane` wait, due by `at`, for `channel` (reads that many)."""
    waiting = (
        select(DeliveryJob.id)
        .where(DeliveryJob.state == PENDING, DeliveryJob.channel == channel)
        .where(DeliveryJob.lane == lane, col(DeliveryJob.dispatch_time) <= at)
        .limit(count)
    )
    found = session.exec(select(func.count()).select_from(waiting.subquery())).one()
    return int(found) >= count


def hurry(session: Session, *, contact_id: int, lane: str, at: datetime) -> int:
    """Make a contact's waiting jobs in `lane` due now (e.g. to refuse them after a STOP)."""
    result = session.execute(
        update(DeliveryJob)
        .where(col(DeliveryJob.contact_id) == contact_id)
        .where(col(DeliveryJob.lane) == lane)
        .where(col(DeliveryJob.state) == PENDING)
        .where(col(DeliveryJob.dispatch_time) > at)
        .values(dispatch_time=at)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
