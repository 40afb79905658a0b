"""Send budgets shared by every process through the database (GCRA, one row per budget).

A token bucket needs a count and a time; GCRA needs only one time per budget, so taking a
send is one conditional UPDATE that two processes can never both win past the limit.
"""

from __future__ import annotations

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Float,
    Update,
    bindparam,
    case,
    exists,
    func,
    or_,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from store.models import ChannelPace


def take(session: Session, *, key: str, now: float, interval: float, tolerance: float) -> float:
    """Take one send from `key`'s budget: 0.0 when taken, else the seconds until one is free.

    `interval` is 1/rate; `tolerance` ((burst - 1) * interval) is how far ahead of its pace
    a budget may run. Commits.
    """
    params = {"budget": key, "now": now, "interval": interval, "tolerance": tolerance}
    for _ in range(2):
        taken = session.execute(_TAKE, params)
        session.commit()
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return 0.0
        row = session.get(ChannelPace, key, populate_existing=True)
        if row is not None:
            return max(row.ready_at, row.paused_until or 0.0, now + 0.001) - now
        if _create(session, key=key, tat=now + interval, ready_at=now + interval - tolerance):
            return 0.0
    return interval  # lost two races in a row: another process is sending on this budget


def _take_statement() -> Update:
    now, interval = bindparam("now", type_=Float()), bindparam("interval", type_=Float())
    start = case((col(ChannelPace.tat) > now, col(ChannelPace.tat)), else_=now)
    return (
        update(ChannelPace)
        .where(col(ChannelPace.key) == bindparam("budget"))
        .where(col(ChannelPace.ready_at) <= now)
        .where(or_(col(ChannelPace.paused_until).is_(None), col(ChannelPace.paused_until) <= now))
        .values(
            tat=start + interval,
            ready_at=start + interval - bindparam("tolerance", type_=Float()),
        )
    )


# Built once: every post and send takes from a budget, and building it costs more than
# running it.
_TAKE = _take_statement()


def pause(session: Session, *, key: str, until: float) -> None:
    """Let nothing use `key`'s budget before `until` (the service asked us to wait). Commits."""
    paused = session.execute(
        update(ChannelPace)
        .where(col(ChannelPace.key) == key)
        .where(or_(col(ChannelPace.paused_until).is_(None), col(ChannelPace.paused_until) < until))
        .values(paused_until=until)
    )
    session.commit()
    if paused.rowcount == 0 and session.get(ChannelPace, key) is None:  # type: ignore[attr-defined]
        _create(session, key=key, tat=0.0, ready_at=0.0, paused_until=until)


def not_ready(
    key: ColumnElement[str] | Mapped[str], now: float | BindParameter[float]
) -> ColumnElement[bool]:
    """Whether the budget named by `key` cannot take a send at `now` (for claim queries)."""
    return exists(
        select(ChannelPace.key)
        .where(col(ChannelPace.key) == key)
        .where(or_(col(ChannelPace.ready_at) > now, col(ChannelPace.paused_until) > now))
    )


def next_ready(session: Session, *, now: float) -> float | None:
    """When the earliest budget that is not ready now becomes ready (Unix seconds)."""
    ready = session.exec(
        select(func.min(ChannelPace.ready_at)).where(col(ChannelPace.ready_at) > now)
    ).one()
    paused = session.exec(
        select(func.min(ChannelPace.paused_until)).where(col(ChannelPace.paused_until) > now)
    ).one()
    found = [t for t in (ready, paused) if t is not None]
    return min(found) if found else None


def _create(
    session: Session, *, key: str, tat: float, ready_at: float, paused_until: float | None = None
) -> bool:
    session.add(ChannelPace(key=key, tat=tat, ready_at=ready_at, paused_until=paused_until))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()  # another process made it first: take from its row
        return False
    return True
