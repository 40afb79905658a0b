"""A backlog made visible: its depth and when it clears, in /healthz and in the channel.

While a channel's waiting texts need longer than `threshold` to post at Slack's budget, the
channel shows one status message, edited in place as the backlog drains, and finally marked
cleared. The record in `backlog_status` makes several processes post it once and take turns
editing it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from bridge.background import BackgroundLoop
from bridge.ports import ChatUnavailable, Clock
from store import backlog
from store.backlog import ChannelBacklog

log = logging.getLogger(__name__)

# A backlog that clears within this much is just traffic: no status message for it.
SHOW_AFTER = timedelta(seconds=60)
REFRESH_EVERY = timedelta(seconds=20)


@dataclass(frozen=True)
class Estimate:
    """A channel's backlog as people read it."""

    channel: str
    pending: int
    conversations: int
    oldest_seconds: float
    clears_in_seconds: float

    def as_json(self) -> dict[str, object]:
        """The /healthz entry."""
        return {
            "channel": self.channel,
            "pending": self.pending,
            "conversations": self.conversations,
            "oldest_seconds": round(self.oldest_seconds, 1),
            "clears_in_seconds": round(self.clears_in_seconds, 1),
        }


def estimate(waiting: ChannelBacklog, *, now: datetime, rate: float) -> Estimate:
    """How long the channel's waiting texts take to post at `rate` posts a second."""
    return Estimate(
        channel=waiting.channel,
        pending=waiting.pending,
        conversations=waiting.conversations,
        oldest_seconds=max((now - waiting.oldest).total_seconds(), 0.0),
        clears_in_seconds=waiting.posts_needed / rate,
    )


def estimates(session: Session, *, now: datetime, rate: float) -> list[Estimate]:
    """Every channel with something waiting, the deepest first."""
    return [estimate(w, now=now, rate=rate) for w in backlog.channel_backlogs(session)]


def status_text(found: Estimate, *, rate: float) -> str:
    """The status message while the backlog lasts."""
    per = "1 post a second" if rate == 1 else f"{rate:g} posts a second"
    return (
        f":hourglass_flowing_sand: *Backlog:* {found.pending:,} updates for "
        f"{found.conversations:,} conversations are waiting to be posted here; the oldest "
        f"came in {_span(found.oldest_seconds)} ago. At Slack's limit of {per} this clears "
        f"in about {_span(found.clears_in_seconds)}. Every text is stored: none is lost, and "
        "a conversation's waiting texts are posted together, in order."
    )


def cleared_text(at: datetime, peak: int) -> str:
    """What the status message says once the backlog is gone."""
    return (
        f":white_check_mark: *Backlog cleared* at {at:%H:%M} UTC: everything waiting "
        f"(at most {peak:,} updates) is posted."
    )


def _span(seconds: float) -> str:
    if seconds < 90:
        return f"{max(round(seconds), 1)} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes / 60:.1f} h"


class StatusPoster(Protocol):
    """Posting and editing a plain status message in a channel."""

    def post_notice(self, channel: str, text: str) -> str:
        """Post `text` in the channel (paced); its ts. Raises ChatUnavailable."""

    def update_notice(self, channel: str, ts: str, text: str) -> None:
        """Replace the message's text. Raises ChatUnavailable."""


class BacklogWatch(BackgroundLoop):
    """A thread that keeps each channel's backlog status message current."""

    def __init__(
        self,
        *,
        engine: Engine,
        poster: StatusPoster,
        clock: Clock,
        rate: float,
        show_after: timedelta = SHOW_AFTER,
        every: timedelta = REFRESH_EVERY,
    ) -> None:
        self._engine = engine
        self._poster = poster
        self._clock = clock
        self._rate = rate
        self._show_after = show_after.total_seconds()
        self._every = every
        super().__init__(name="backlog-watch")

    def _loop(self) -> None:
        while not self._stop.wait(min(self._every.total_seconds(), 5.0)):
            try:
                self.tick()
            except Exception:
                log.exception("the backlog status was not refreshed; trying again shortly")

    def tick(self) -> None:
        """Post, refresh or close each channel's status message as its backlog stands."""
        now = self._clock.now()
        with Session(self._engine) as session:
            current = {e.channel: e for e in estimates(session, now=now, rate=self._rate)}
            for found in current.values():
                if found.clears_in_seconds >= self._show_after:
                    self._show(session, found, now)
            for status in backlog.open_statuses(session):
                found_now = current.get(status.channel)
                # Cleared once it is down to what a few seconds of budget post.
                if found_now is None or found_now.clears_in_seconds < min(self._show_after, 10):
                    self._clear(session, status.channel, now)

    def _show(self, session: Session, found: Estimate, now: datetime) -> None:
        channel = found.channel
        created = backlog.open_status(session, channel=channel, now=now, pending=found.pending)
        if not created and not backlog.claim_update(
            session, channel=channel, now=now, before=now - self._every
        ):
            return
        status = backlog.status_of(session, channel)
        if status is None or status.cleared_at is not None:
            return
        text = status_text(found, rate=self._rate)
        status.peak = max(status.peak, found.pending)
        try:
            if status.ts is None:
                status.ts = self._poster.post_notice(channel, text)
            else:
                self._poster.update_notice(channel, status.ts, text)
        except ChatUnavailable as failed:
            log.info("backlog status in %s not shown yet: %s", channel, failed.reason)
        session.add(status)
        session.commit()

    def _clear(self, session: Session, channel: str, now: datetime) -> None:
        status = backlog.status_of(session, channel)
        if status is None or status.cleared_at is not None:
            return
        if not backlog.claim_update(session, channel=channel, now=now, before=now):
            return
        status = backlog.status_of(session, channel)
        assert status is not None
        try:
            if status.ts is not None:
                self._poster.update_notice(channel, status.ts, cleared_text(now, status.peak))
        except ChatUnavailable as failed:
            log.info("backlog status in %s not marked cleared yet: %s", channel, failed.reason)
            return
        status.cleared_at = now
        session.add(status)
        session.commit()
