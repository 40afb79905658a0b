"""`RETENTION_DAYS`: message words older than that are purged; what consent needs is kept."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, or_, update
from sqlmodel import Session, col

from bridge.background import BackgroundLoop
from bridge.config import Settings
from bridge.ports import Clock
from store import intake, privacy
from store.engine import write_gate
from store.models import MediaItem, Message, OutboundSms, WebhookIntake

log = logging.getLogger(__name__)

# Keyword texts (STOP, START...) are the evidence behind the consent ledger: never purged.
_KEPT_KINDS = ("keyword",)
# Not yet posted or sent: purging now would post or send an empty text.
_UNDELIVERED = ("received", "pending", "sending")


@dataclass(frozen=True)
class Purge:
    """What one run of the retention purge emptied."""

    messages: int
    parts: int
    media: int = 0


def purge(session: Session, *, days: int, at: datetime) -> Purge:
    """Empty the words of messages older than `days`, and log it; the caller commits."""
    cutoff = at - timedelta(days=days)
    old = (
        col(Message.created_at) < cutoff,
        col(Message.body) != "",
        col(Message.kind).not_in(_KEPT_KINDS),
        col(Message.status).not_in(_UNDELIVERED),
    )
    messages = session.execute(update(Message).where(*old).values(body="", updated_at=at)).rowcount  # type: ignore[attr-defined]
    parts = session.execute(
        update(OutboundSms)
        .where(col(OutboundSms.created_at) < cutoff, col(OutboundSms.body) != "")
        .where(col(OutboundSms.status).not_in(_UNDELIVERED))
        .values(body="", updated_at=at)
    ).rowcount  # type: ignore[attr-defined]
    # Pictures and files: the bytes, where they came from, and the /media token that served them.
    media = session.execute(
        update(MediaItem)
        .where(col(MediaItem.created_at) < cutoff, col(MediaItem.state) != "pending")
        .where(
            or_(
                col(MediaItem.content).is_not(None),
                col(MediaItem.source_url).is_not(None),
                col(MediaItem.token).is_not(None),
            )
        )
        .values(content=None, source_url=None, filename=None, token=None, expires_at=None)
    ).rowcount  # type: ignore[attr-defined]
    # Webhooks parked unapplied (they failed every time): kept for the operator until now.
    intake.delete_stored(
        session,
        col(WebhookIntake.parked_at).is_not(None),
        col(WebhookIntake.received_at) < cutoff,
    )
    done = Purge(int(messages), int(parts), int(media))
    if done.messages or done.parts or done.media:
        privacy.log(
            session,
            action="retention",
            actor=f"RETENTION_DAYS={days}",
            detail=f"{done.messages} message texts, {done.parts} sent SMS parts and "
            f"{done.media} pictures or files older than {days} days emptied",
            at=at,
        )
    return done


class RetentionSweeper(BackgroundLoop):
    """Runs the purge at start and then every `every`, in a background thread."""

    def __init__(
        self, *, engine: Engine, days: int, clock: Clock, every: timedelta = timedelta(hours=1)
    ) -> None:
        self._engine = engine
        self._days = days
        self._clock = clock
        self._every = every
        super().__init__(name="retention")

    def sweep(self) -> Purge:
        """One purge, committed."""
        with write_gate(self._engine), Session(self._engine) as session:
            done = purge(session, days=self._days, at=self._clock.now())
            session.commit()
        if done.messages or done.parts:
            log.info("retention: emptied %d old messages, %d sent parts", done.messages, done.parts)
        return done

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sweep()
            except Exception:
                log.exception("retention purge failed; trying again later")
            self._stop.wait(self._every.total_seconds())


def sweeper_for(settings: Settings, engine: Engine, clock: Clock) -> RetentionSweeper | None:
    """The sweeper RETENTION_DAYS asks for, or None when it is off."""
    if settings.retention_days is None:
        return None
    return RetentionSweeper(engine=engine, days=settings.retention_days, clock=clock)
