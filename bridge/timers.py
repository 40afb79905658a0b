"""The alarm clock for timed work: APScheduler wakes the delivery worker when held work is due.

What is timed (a reply held for quiet hours) lives in `delivery_job` with its due time, so it
survives restarts, can be found, changed and cancelled, and is claimed by one worker only. The
scheduler keeps just the wake-ups, in memory, and is re-armed from that table at start: a
persistent APScheduler job store would be a second copy of the same state to keep in step.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


class Timers:
    """Calls `wake` at each armed time (at once for a time already past).

    The scheduler (and its thread) comes with the first alarm: most processes never hold a
    reply, and APScheduler weighs about 1 MiB in memory for as long as the process lives.
    """

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._scheduler: BackgroundScheduler | None = None
        self._running = False
        self._lock = threading.Lock()

    def start(self, first: datetime | None) -> None:
        """Start the scheduler, armed for the earliest held job, if any."""
        with self._lock:
            self._running = True
            if self._scheduler is not None:
                self._scheduler.start()
        if first is not None:
            self.at(first)

    def at(self, when: datetime) -> None:
        """Wake the worker at `when`; one alarm per instant however often it is asked."""
        from apscheduler.triggers.date import DateTrigger

        with self._lock:
            scheduler = self._scheduler_for_alarms()
            scheduler.add_job(
                self._wake,
                DateTrigger(run_date=when),
                id=f"wake:{when.isoformat()}",
                replace_existing=True,
                misfire_grace_time=None,  # late is better than never
                coalesce=True,
            )
        log.debug("delivery worker will wake at %s", when.isoformat())

    def pending(self) -> list[datetime]:
        """When the armed alarms ring, earliest first."""
        if self._scheduler is None:
            return []
        times = [job.next_run_time for job in self._scheduler.get_jobs() if job.next_run_time]
        return sorted(times)

    def stop(self) -> None:
        """Stop without waiting for alarms that have not rung."""
        with self._lock:
            self._running = False
            if self._scheduler is not None and self._scheduler.running:
                self._scheduler.shutdown(wait=False)

    def _scheduler_for_alarms(self) -> BackgroundScheduler:
        if self._scheduler is None:
            from apscheduler.schedulers.background import BackgroundScheduler

            self._scheduler = BackgroundScheduler(timezone=UTC)
            if self._running:
                self._scheduler.start()
        return self._scheduler
