"""Load shapes shared by the ack benchmarks: closed-loop bursts and open-loop steady rates.

Open loop: each request has a scheduled send time (start + n / rate) and its latency is
measured from that time, so a server that falls behind shows its queue in the numbers
instead of slowing the client down (coordinated omission).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass(frozen=True)
class Prepared:
    """A request ready to send: path, encoded body and headers."""

    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Tally:
    """Latencies (seconds) of the 200 answers, and what went wrong with the rest."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def throughput(self) -> float:
        """200 answers per second of wall time."""
        return len(self.latencies) / self.seconds if self.seconds else 0.0


def percentile(values: list[float], pct: float) -> float:
    """The value at `pct` percent (nearest rank); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def _send(
    client: aiohttp.ClientSession, request: Prepared, started: float, tally: Tally
) -> None:
    try:
        async with client.post(request.url, data=request.body, headers=request.headers) as answer:
            body = await answer.read()
            elapsed = time.perf_counter() - started
            if answer.status == 200:
                tally.latencies.append(elapsed)
            else:
                tally.failures.append(
                    f"HTTP {answer.status}: {body[:200].decode(errors='replace')}"
                )
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.failures.append(f"{type(exc).__name__}: {exc}")


async def burst(requests: list[Prepared], concurrency: int, tally: Tally) -> None:
    """Closed loop: `concurrency` senders, each sending its next request when answered."""
    queue = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def sender() -> None:
            for request in queue:
                await _send(client, request, time.perf_counter(), tally)

        began = time.perf_counter()
        await asyncio.gather(*(sender() for _ in range(concurrency)))
        tally.seconds += time.perf_counter() - began


async def steady(requests: list[Prepared], rate: float, tally: Tally) -> None:
    """Open loop: request n is due at start + n / rate; latency counts from when it was due."""
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
        tasks = []
        start = time.perf_counter() + 0.2
        for n, request in enumerate(requests):
            due = start + n / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_send(client, request, due, tally)))
        await asyncio.gather(*tasks)
        tally.seconds += time.perf_counter() - start


async def one_at_a_time(requests: list[Prepared], gap: float, tally: Tally) -> None:
    """Unloaded: one request in flight, `gap` seconds of quiet between them."""
    async with aiohttp.ClientSession() as client:
        began = time.perf_counter()
        for request in requests:
            await _send(client, request, time.perf_counter(), tally)
            await asyncio.sleep(gap)
        tally.seconds += time.perf_counter() - began
