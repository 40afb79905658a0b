"""Pacing sends at a budget (Slack per channel, Twilio per number), and backing off."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine
from sqlmodel import Session

from store import pace


class TokenBucket:
    """`rate` calls per second on average, `burst` at once; `acquire` waits for a token."""

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._monotonic = monotonic
        self._sleep = sleep
        self._stamp = monotonic()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take a token, sleeping until one is there; returns how long it waited."""
        with self._lock:
            now = self._monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
            self._stamp = now
            self._tokens -= 1.0
            wait = 0.0 if self._tokens >= 0 else -self._tokens / self._rate
        if wait > 0:
            self._sleep(wait)
        return wait


# Its own generator: drawing from the module's shared one would disturb other users of it.
_JITTER = random.Random()


def backoff_seconds(attempts: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter (the AWS pattern), never above `cap`."""
    ceiling = min(cap, base * (2 ** min(attempts, 20)))
    return _JITTER.uniform(ceiling / 2, ceiling)


class Pacer(Protocol):
    """A send budget per key (a Slack channel, a sending number)."""

    def take(self, key: str) -> float:
        """Take one send: 0.0 when taken, else the seconds until the budget has one."""


@dataclass(frozen=True)
class Budget:
    """`rate` sends per second on average, `burst` at once."""

    rate: float
    burst: int

    def with_reserve(self) -> Budget:
        """The budget less one post of its burst, kept back for network jitter.

        Posts leave paced, but meet the service's own bucket a little sooner or later; one
        post of slack in its bucket absorbs that, so pacing never earns a 429.
        """
        return Budget(rate=self.rate, burst=max(self.burst - 1, 1))

    @property
    def interval(self) -> float:
        """Seconds between sends at the sustained rate."""
        return 1.0 / self.rate

    @property
    def tolerance(self) -> float:
        """How far ahead of its pace a budget may run: the burst, in seconds."""
        return max(self.burst - 1, 0) * self.interval


_LOCAL_KEYS = 1000


class LocalPacer:
    """Budgets in this process's memory (GCRA): for one process, or a sink used alone."""

    def __init__(self, budget: Budget, *, wallclock: Callable[[], float] = time.time) -> None:
        self._budget = budget
        self._wallclock = wallclock
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Take one send from `key`'s budget, or say how long until there is one."""
        now, budget = self._wallclock(), self._budget
        with self._lock:
            tat = max(self._tat.get(key, now), now)
            if tat - budget.tolerance > now:
                return tat - budget.tolerance - now
            self._tat[key] = tat + budget.interval
            if len(self._tat) > _LOCAL_KEYS:
                # Budgets idle past their pace are dropped: memory follows channels in use.
                self._tat = {k: t for k, t in self._tat.items() if t > now}
        return 0.0


class SharedPacer:
    """Budgets kept in the database, so every process sending on a key shares one budget."""

    def __init__(
        self, engine: Engine, budget: Budget, *, wallclock: Callable[[], float] = time.time
    ) -> None:
        self._engine = engine
        self._budget = budget
        self._wallclock = wallclock

    def take(self, key: str) -> float:
        """Take one send from `key`'s budget, or say how long until there is one."""
        budget = self._budget
        with Session(self._engine) as session:
            return pace.take(
                session,
                key=key,
                now=self._wallclock(),
                interval=budget.interval,
                tolerance=budget.tolerance,
            )


class PaceBoard:
    """What the delivery worker asks of all budgets: pauses, and when the next one is ready."""

    def __init__(self, engine: Engine, *, wallclock: Callable[[], float] = time.time) -> None:
        self._engine = engine
        self._wallclock = wallclock

    def now(self) -> float:
        """The wall clock the budgets are kept on (never a test's fake domain clock)."""
        return self._wallclock()

    def pause(self, key: str, seconds: float) -> None:
        """Nothing is sent on `key` for `seconds` (the service said Retry-After)."""
        with Session(self._engine) as session:
            pace.pause(session, key=key, until=self._wallclock() + seconds)

    def seconds_to_next_ready(self, *, since: float | None = None) -> float | None:
        """How long until a budget that was not ready at `since` (default now) can send again.

        Pass the time a claim skipped budgets at: one that has turned ready since then is
        ready now (0.0), rather than forgotten until the next poll.
        """
        now = self._wallclock()
        with Session(self._engine) as session:
            ready = pace.next_ready(session, now=now if since is None else since)
        return None if ready is None else max(ready - now, 0.0)


# Waits this short are slept through: rescheduling would cost more than it frees.
SHORT_WAIT_SECONDS = 0.25


def take_or_wait(
    pacer: Pacer,
    key: str,
    *,
    short: float = SHORT_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Take a send, sleeping through a short wait; 0.0 when taken, else how long to wait."""
    for _ in range(3):
        wait = pacer.take(key)
        if wait <= 0.0 or wait > short:
            return wait
        sleep(wait)
    return pacer.take(key)
