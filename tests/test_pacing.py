"""The token bucket keeps to the rate after a burst; backoff grows and is capped."""

from __future__ import annotations

from bridge.pacing import TokenBucket, backoff_seconds


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_burst_then_the_sustained_rate() -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate=1.0, burst=3, monotonic=fake.monotonic, sleep=fake.sleep)
    waits = [bucket.acquire() for _ in range(6)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert all(abs(wait - 1.0) < 1e-9 for wait in waits[3:])
    assert abs(fake.now - 3.0) < 1e-9


def test_idle_time_refills_up_to_the_burst_only() -> None:
    fake = FakeTime()
    bucket = TokenBucket(rate=2.0, burst=2, monotonic=fake.monotonic, sleep=fake.sleep)
    bucket.acquire()
    bucket.acquire()
    fake.now += 100
    assert [bucket.acquire() for _ in range(3)] == [0.0, 0.0, 0.5]


def test_backoff_grows_and_is_capped() -> None:
    assert 0.5 <= backoff_seconds(0) <= 1.0
    assert 4.0 <= backoff_seconds(3) <= 8.0
    assert 150.0 <= backoff_seconds(50) <= 300.0
