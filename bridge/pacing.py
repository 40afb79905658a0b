"""Pacing posts to a channel at Slack's budget, and backing off after failures."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


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


def backoff_seconds(attempts: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter (the AWS pattern), never above `cap`."""
    ceiling = min(cap, base * (2 ** min(attempts, 20)))
    return random.uniform(ceiling / 2, ceiling)
