"""The delivery worker: a thread that claims due jobs and runs them, woken on enqueue."""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from bridge.pacing import PaceBoard, Pacer, backoff_seconds, take_or_wait
from bridge.ports import Clock, Later, Paced, PermanentFailure, ServiceUnavailable
from bridge.timers import Timers
from store import jobs
from store.models import Conversation, DeliveryJob

log = logging.getLogger(__name__)

# Unexpected errors (not an outage) this many times in a row: the job is set aside.
POISON_AFTER_FAILURES = 8
PARKED_NOTICE = "parked_notice"
# With several processes, a poll catches jobs another process queued.
_IDLE_POLL_SECONDS = 2.0
# A job whose channel (or number) can send again within this long is claimed already: its
# post is prepared meanwhile and leaves on its slot, instead of that time late (a paced
# channel's every post would be late by the preparing, and Slack's budget lost with it).
LOOKAHEAD_SECONDS = 0.1
# While a budget is spent (a backlog), a wake-up this soon after a look that found nothing
# to do waits out the rest: every stored text wakes the worker (100 a second in a campaign's
# replies), and each look is a claim query that finds the budget still spent, taking CPU from
# the webhooks. Without a backlog a wake-up is served at once.
RECHECK_SECONDS = 0.1


class JobRunner(Protocol):
    """Carries out one kind of job; raises ServiceUnavailable for it to be retried."""

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> Later | None:
        """Do the job's work; the worker commits and marks it done (or held, for Later)."""


class Dispatch:
    """Runs each job with the runner registered for its kind."""

    def __init__(self, runners: Mapping[str, JobRunner]) -> None:
        self._runners = dict(runners)

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> Later | None:
        """Run `job`; a kind nobody handles is logged and dropped."""
        runner = self._runners.get(job.kind)
        if runner is None:
            log.error("job %s has kind %r that no runner handles; dropped", job.id, job.kind)
            return None
        return runner.run(session, job, now)


class DeliveryWorker:
    """Runs the delivery queue in a background thread until stopped."""

    def __init__(
        self,
        *,
        engine: Engine,
        runner: JobRunner,
        clock: Clock,
        lease: timedelta = timedelta(seconds=120),
        lane_pacers: Mapping[str, Pacer] | None = None,
        unpaced_kinds: Collection[str] = (),
        board: PaceBoard | None = None,
    ) -> None:
        """`unpaced_kinds`: jobs in a paced lane that send nothing themselves (a decision)."""
        self._engine = engine
        # Lanes whose jobs are each one send (SMS): a send is taken from the budget at claim.
        # Jobs that only decide (whether to answer) neither wait for nor spend the budget:
        # a burst of them would hold agents' replies from that number at one a second.
        self._lane_pacers = dict(lane_pacers or {})
        self._unpaced_kinds = frozenset(unpaced_kinds)
        self._board = board or PaceBoard(engine)
        self._timers = Timers(self.wake)
        self._runner = runner
        self._clock = clock
        self._lease = lease
        self._name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._stale_lease = False
        # When the last claim looked at the budgets: one that turned ready after is due now.
        self._paced_at: float | None = None
        self._found_nothing_at = -math.inf
        self._budget_spent = False
        self._thread = threading.Thread(target=self._loop, name="delivery", daemon=True)

    def start(self) -> None:
        """Start the background thread, and the alarms for replies held before a restart."""
        with Session(self._engine) as session:
            self._timers.start(jobs.next_held_time(session))
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to finish its current job and wait for it."""
        self._stop.set()
        self._wake.set()
        self._timers.stop()
        self._thread.join(timeout)

    @property
    def thread(self) -> threading.Thread:
        """The thread that runs the jobs."""
        return self._thread

    def wake(self) -> None:
        """A job was queued: look now rather than at the next poll."""
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            # Cleared before looking, so a wake-up during the look is not lost.
            self._wake.clear()
            try:
                if self._stale_lease:
                    self._free_own_leases()
                if self._run_one():
                    continue
                self._found_nothing_at = time.monotonic()
                timeout = self._idle_timeout()
            except Exception:
                log.exception("delivery loop failed; retrying shortly")
                # Most likely the database went away mid-job: once it is back, the job we held
                # must not wait out its lease before anyone may run it.
                self._stale_lease = True
                timeout = 1.0
            if self._wake.wait(timeout) and self._budget_spent:
                early = RECHECK_SECONDS - (time.monotonic() - self._found_nothing_at)
                if early > 0:
                    self._stop.wait(early)

    def _free_own_leases(self) -> None:
        with Session(self._engine) as session:
            freed = jobs.release_locks_of(session, worker=self._name)
        self._stale_lease = False
        if freed:
            log.info("resuming %d delivery jobs interrupted by a database outage", freed)

    def _run_one(self) -> bool:
        now = self._clock.now()
        self._paced_at = self._board.now() + LOOKAHEAD_SECONDS
        with Session(self._engine) as session:
            job = jobs.claim_next(
                session,
                now=now,
                worker=self._name,
                lease=self._lease,
                pace_now=self._paced_at,
                unpaced_kinds=self._unpaced_kinds,
            )
            if job is None:
                return False
            pacer = None if job.kind in self._unpaced_kinds else self._lane_pacers.get(job.lane)
            if pacer is not None and take_or_wait(pacer, job.channel) > 0:
                jobs.unlease(session, job=job)  # another process took the send meanwhile
                return True
            self._run(session, job)
        return True

    def _run(self, session: Session, job: DeliveryJob) -> None:
        now = self._clock.now()
        try:
            outcome = self._runner.run(session, job, now)
        except Paced:
            session.rollback()
            jobs.unlease(session, job=job)  # its channel is skipped until the budget allows
            return
        except ServiceUnavailable as refused:
            session.rollback()
            delay = refused.retry_after or backoff_seconds(job.attempts)
            if refused.retry_after or refused.throttled:
                # Shared: no process sends on this channel or number until the wait is over.
                self._board.pause(job.channel, delay)
            log.warning(
                "job %s (%s) not delivered: %s; retry in %.1fs",
                job.id,
                job.kind,
                refused.reason,
                delay,
            )
            jobs.retry(session, job=job, at=now + timedelta(seconds=delay), error=refused.reason)
            return
        except PermanentFailure as failed:
            session.rollback()
            log.error("job %s (%s) ended with an error: %s", job.id, job.kind, failed.reason)
            jobs.complete(session, job=job, now=self._clock.now(), error=failed.reason)
            session.commit()
            return
        except Exception as exc:
            session.rollback()
            log.exception("job %s (%s) failed", job.id, job.kind)
            if job.attempts + 1 >= POISON_AFTER_FAILURES:
                self._park(session, job, now, exc)
                return
            delay = backoff_seconds(job.attempts)
            jobs.retry(session, job=job, at=now + timedelta(seconds=delay), error=repr(exc))
            return
        if isinstance(outcome, Later):
            jobs.postpone(session, job=job, until=outcome.until)
            session.commit()
            self._timers.at(outcome.until)
            return
        jobs.complete(session, job=job, now=self._clock.now())
        session.commit()

    def _park(self, session: Session, job: DeliveryJob, now: datetime, exc: Exception) -> None:
        """A job that fails the same way every time would block its lane for ever."""
        reason = f"{type(exc).__name__}: {exc}"[:300]
        jobs.park(session, job=job, now=now, error=reason)
        conversation = session.get(Conversation, job.conversation_id or 0)
        if conversation is not None and job.kind != PARKED_NOTICE:
            # In a lane of its own: whatever the parked job's lane was doing, this gets told.
            jobs.enqueue(
                session,
                kind=PARKED_NOTICE,
                contact_id=job.contact_id,
                channel=conversation.channel,
                conversation_id=conversation.id,
                lane="parked",
                at=now,
            )
        session.commit()
        log.error("job %s (%s) failed %d times and was parked", job.id, job.kind, job.attempts)

    def _idle_timeout(self) -> float:
        """Until the next job is due, a paused channel resumes, or the poll comes round."""
        with Session(self._engine) as session:
            due = jobs.next_dispatch_time(session)
        now = self._clock.now()
        waits = [_IDLE_POLL_SECONDS]
        if due is not None and due > now:
            waits.append((due - now).total_seconds())
        ready = self._board.seconds_to_next_ready(since=self._paced_at)
        self._budget_spent = ready is not None
        if ready is not None:
            waits.append(ready - LOOKAHEAD_SECONDS)
        return max(min(waits), 0.02)
