"""Slack's per-channel rate limit on a Web API method, and when each accepted post arrived."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Arrival:
    """An accepted post: where it went, its ts, and when it arrived (both clocks)."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    monotonic: float
    wall: float


class ChannelBuckets:
    """One token bucket per channel: `rate` calls a second on average, `burst` at once.

    `admit` answers None for a call within the budget, else the seconds until a token is
    there (what Slack's Retry-After says; whole seconds unless `fractional`).
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        fractional: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start every channel with a full bucket."""
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate, self.burst, self.fractional = rate, burst, fractional
        self._monotonic = monotonic
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def admit(self, channel: str) -> float | None:
        """Take a token for `channel`, or say how long until one is there (no token taken)."""
        with self._lock:
            now = self._monotonic()
            tokens, stamp = self._buckets.get(channel, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
            if tokens >= 1.0:
                self._buckets[channel] = (tokens - 1.0, now)
                return None
            self._buckets[channel] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        if self.fractional:
            return max(round(wait, 3), 0.001)
        return float(max(1, math.ceil(wait)))
