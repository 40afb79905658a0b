"""Load shapes shared by the ack benchmarks: closed-loop bursts and open-loop steady rates.

Open loop: each request has a scheduled send time (start + n / rate) and its latency is
measured from that time, so a server that falls behind shows its queue in the numbers
instead of slowing the client down (coordinated omission).

The steady and one-at-a-time shapes send with a lean HTTP/1.1 client: each request's bytes are
built before the clock starts, connections are kept alive and reused, and an answer is read by
its Content-Length, so the generator's own CPU (on a machine whose cores the servers share)
is a few tens of microseconds a request rather than aiohttp's few hundred. `apart` runs a
shape in a process of its own, away from emulators serving the server under test.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp


@dataclass(frozen=True)
class Prepared:
    """A request ready to send: path, encoded body and headers."""

    url: str
    body: bytes
    headers: dict[str, str]

    def wire(self) -> bytes:
        """The whole HTTP/1.1 request, as sent on a kept-alive connection."""
        parts = urlsplit(self.url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


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


_Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class LeanClient:
    """Kept-alive HTTP/1.1 connections to one server: a request takes an idle one, or opens one."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._idle: list[_Connection] = []

    async def send(self, wire: bytes, started: float, tally: Tally) -> None:
        """Send one request; its latency counts from `started`."""
        while self._idle:
            connection = self._idle.pop()
            try:
                answer = await self._exchange(connection, wire)
            except asyncio.IncompleteReadError as exc:
                connection[1].close()
                if not exc.partial:  # closed while idle (keep-alive timeout): not sent
                    continue
                tally.failures.append(f"{type(exc).__name__}: {exc}")
                return
            except (OSError, asyncio.LimitOverrunError) as exc:
                connection[1].close()
                tally.failures.append(f"{type(exc).__name__}: {exc}")
                return
            self._record(connection, answer, started, tally)
            return
        try:
            connection = await asyncio.open_connection(self._host, self._port)
        except OSError as exc:
            tally.failures.append(f"{type(exc).__name__}: {exc}")
            return
        try:
            answer = await self._exchange(connection, wire)
        # TimeoutError (no answer in 60 s) is an OSError.
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            connection[1].close()
            tally.failures.append(f"{type(exc).__name__}: {exc}")
            return
        self._record(connection, answer, started, tally)

    @staticmethod
    async def _exchange(connection: _Connection, wire: bytes) -> tuple[int, bytes, bool, float]:
        reader, writer = connection
        writer.write(wire)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        status, length, close = _head(head)
        body = await reader.readexactly(length)
        return status, body, close, time.perf_counter()

    def _record(
        self,
        connection: _Connection,
        answer: tuple[int, bytes, bool, float],
        started: float,
        tally: Tally,
    ) -> None:
        status, body, close, ended = answer
        if status == 200:
            tally.latencies.append(ended - started)
        else:
            tally.failures.append(f"HTTP {status}: {body[:200].decode(errors='replace')}")
        if close:
            connection[1].close()
        else:
            self._idle.append(connection)

    def close(self) -> None:
        """Close the idle connections."""
        for _reader, writer in self._idle:
            writer.close()
        self._idle.clear()


def _head(head: bytes) -> tuple[int, int, bool]:
    """Status, Content-Length and whether the server closes, from a response's head."""
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, close = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    return status, length, close


async def steady(requests: list[Prepared], rate: float, tally: Tally) -> None:
    """Open loop: request n is due at start + n / rate; latency counts from when it was due."""
    if not requests:
        return
    client = LeanClient(requests[0].url)
    wires = [request.wire() for request in requests]
    tasks = []
    start = time.perf_counter() + 0.2
    for n, wire in enumerate(wires):
        due = start + n / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(client.send(wire, due, tally)))
    await asyncio.gather(*tasks)
    tally.seconds += time.perf_counter() - start
    client.close()


async def one_at_a_time(requests: list[Prepared], gap: float, tally: Tally) -> None:
    """Unloaded: one request in flight, `gap` seconds of quiet between them."""
    if not requests:
        return
    client = LeanClient(requests[0].url)
    wires = [request.wire() for request in requests]
    began = time.perf_counter()
    for wire in wires:
        await client.send(wire, time.perf_counter(), tally)
        await asyncio.sleep(gap)
    tally.seconds += time.perf_counter() - began
    client.close()


def _run_shape(
    shape: Callable[[list[Prepared], float, Tally], Coroutine[Any, Any, None]],
    requests: list[Prepared],
    argument: float,
) -> Tally:
    tally = Tally()
    asyncio.run(shape(requests, argument, tally))
    return tally


def apart(
    shape: Callable[[list[Prepared], float, Tally], Coroutine[Any, Any, None]],
    requests: list[Prepared],
    argument: float,
    tally: Tally,
) -> None:
    """Run a load shape (`steady`, `one_at_a_time`) in a fresh process of its own, so the
    emulators and the bench's bookkeeping do not share its interpreter; add to `tally`."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        result = pool.submit(_run_shape, shape, requests, argument).result()
    tally.latencies += result.latencies
    tally.failures += result.failures
    tally.seconds += result.seconds
