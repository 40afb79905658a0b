"""Shared plumbing for the delivery benchmarks (burst, end to end, memory).

smsbridge runs as real `python -m bridge serve` processes on 127.0.0.1 against the in-process
Slack and Twilio emulators; webhooks and events are signed with the test suite's helpers
(`tests.harness.Twilio`, `tests.slack_events.SlackEvents`). Texts carry unique bodies
(`c0042 m3`: contact 42's third text) that are searched in the posts, since one post may hold
several texts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import random
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Self
from urllib.parse import urlencode

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.inbound_latency import free_port, percentile  # noqa: E402
from bridge.sandbox.emulators._rate_limit import Arrival  # noqa: E402
from tests.conftest import BUSINESS, CHANNEL, SIGNING_SECRET, base_env  # noqa: E402
from tests.emulators import SlackEmulator, TwilioEmulator  # noqa: E402
from tests.harness import Twilio  # noqa: E402
from tests.slack_events import SlackEvents  # noqa: E402

__all__ = [
    "BUSINESS",
    "CHANNEL",
    "ROOT",
    "SIGNING_SECRET",
    "Arrival",
    "Server",
    "free_port",
    "percentile",
]

MARKER = re.compile(r"\bc(\d{4,}) m(\d+)\b")
_LIBRARIES = ("slack_sdk", "slack_bolt", "twilio", "sqlalchemy", "uvicorn", "starlette", "psycopg")


def text_id(contact: int, n: int) -> str:
    """The unique body of contact `contact`'s `n`th text (searched for in the posts)."""
    return f"c{contact:04d} m{n}"


def phone(contact: int) -> str:
    """Contact number `contact`'s phone (a valid US number, one area code)."""
    return f"+1415{2000000 + contact:07d}"


def bridge_env(
    *,
    slack: SlackEmulator,
    twilio: TwilioEmulator,
    database_url: str,
    public_url: str,
    **extra: str,
) -> dict[str, str]:
    """The environment of a `smsbridge serve` talking to the emulators."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        **base_env(
            SLACK_API_URL=slack.url,
            TWILIO_API_URL=twilio.url,
            DATABASE_URL=database_url,
            PUBLIC_URL=public_url,
            LOG_LEVEL="WARNING",
        ),
        **extra,
    }


def serve_command(port: int) -> list[str]:
    """`smsbridge serve` on `port` (the same program as the console script)."""
    return [sys.executable, "-m", "bridge", "serve", "--port", str(port)]


def rss_kib(pid: int) -> int:
    """Resident set size of a process in KiB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Server:
    """One server process on a fixed port: started, SIGKILLed and restarted like a supervisor."""

    def __init__(
        self, command: list[str], env: dict[str, str], port: int, cwd: Path, log: Path | None
    ) -> None:
        """Nothing runs until start()."""
        self.command, self.env, self.port, self.cwd, self.log = command, env, port, cwd, log
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The running process's id."""
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> Self:
        """Start the process and wait until GET /healthz answers 200."""
        out = open(self.log, "ab") if self.log else None  # noqa: SIM115 - the child keeps it
        try:
            self.proc = subprocess.Popen(
                self.command, env=self.env, cwd=self.cwd, stdout=out, stderr=out
            )
        finally:
            if out is not None:
                out.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.command} exited with {self.proc.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.command} was not ready within {timeout} s")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9: no shutdown, no cleanup."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 20 s."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def rss_kib(self) -> int:
        """The process's resident set size in KiB."""
        return rss_kib(self.pid)


@contextlib.contextmanager
def running(*servers: Server) -> Iterator[None]:
    """Start the servers; stop them at the end, whatever happens."""
    try:
        for server in servers:
            server.start()
        yield
    finally:
        for server in servers:
            server.stop()


def emulators(*, rate: float | None = None, burst: int = 1) -> tuple[SlackEmulator, TwilioEmulator]:
    """Started emulators; with `rate`, Slack enforces it per channel on chat.postMessage."""
    slack = SlackEmulator().start()
    if rate is not None:
        slack.rate_limit("chat.postMessage", rate=rate, burst=burst, fractional_retry_after=True)
    twilio = TwilioEmulator(account_sid=base_env()["TWILIO_ACCOUNT_SID"], auth_token=_auth())
    return slack, twilio.start()


def _auth() -> str:
    return base_env()["TWILIO_AUTH_TOKEN"]


# -- what the run looked like -------------------------------------------------------------------


def environment_lines(script: str) -> list[str]:
    """When, where and with what a benchmark ran (for its RESULTS.md section)."""
    versions = []
    for name in _LIBRARIES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions.append(f"{name} {metadata.version(name)}")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    command = " ".join(["python", f"bench/{script}", *sys.argv[1:]])
    return [
        f"- measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs (shared: other work ran meanwhile), "
        f"Python {platform.python_version()}, commit {commit or '?'}",
        f"- libraries: {', '.join(versions)}",
        f"- command: `{command}` (also `make bench`)",
    ]


# -- sending webhooks and events like Twilio and Slack do ---------------------------------------


@dataclass
class Shot:
    """One request to send at `at` seconds into the run; `build` signs it when it is fired."""

    at: float
    key: str
    build: Callable[[], tuple[str, bytes, dict[str, str]]]
    # Shots of one chain (a contact's phone) go one after the other, each once the one
    # before was answered, as a person's texts do; None: no such wait.
    chain: str | None = None


@dataclass
class Fired:
    """What happened to the shots: when each was first acknowledged (monotonic), retries."""

    acked: dict[str, float] = field(default_factory=dict)
    sent_at: dict[str, float] = field(default_factory=dict)
    retried: int = 0
    failed: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def twilio_shot(
    twilio: Twilio, at: float, key: str, sid: int, body: str, sender: str, chain: bool = True
) -> Shot:
    """An inbound-SMS webhook (MessageSid from `sid`; the same sid again is Twilio's retry)."""

    def build() -> tuple[str, bytes, dict[str, str]]:
        params = twilio.params(sid, body, sender)
        headers = {
            "X-Twilio-Signature": twilio.signature(params),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        return "/twilio/sms", urlencode(params).encode(), headers

    return Shot(at, key, build, sender if chain else None)


def slack_shot(
    events: SlackEvents, at: float, key: str, envelope: dict[str, object], retry_num: int | None
) -> Shot:
    """An Events API request (the same envelope with `retry_num` is Slack's retry)."""

    def build() -> tuple[str, bytes, dict[str, str]]:
        request = events.request(envelope, retry_num=retry_num)
        keep = ("content-type", "user-agent", "x-slack-request-timestamp", "x-slack-signature")
        headers = {k: v for k, v in request.headers.items() if k.lower() in keep}
        retry = {k: v for k, v in request.headers.items() if k.lower().startswith("x-slack-retry")}
        headers.update(retry)
        return "/slack/events", request.content, headers

    return Shot(at, key, build)


async def fire(
    shots: Iterable[Shot],
    targets: Callable[[], list[str]],
    *,
    concurrency: int = 100,
    attempts: int = 20,
    seed: int = 7,
    alongside: Callable[[Callable[[Shot], Awaitable[None]]], Awaitable[None]] | None = None,
) -> Fired:
    """Send each shot at its time (open loop), spread round-robin over `targets()` like a load
    balancer; a request that fails (connection refused or reset, 5xx) goes again to the next
    target a moment later, as Twilio and Slack retry. `alongside(send)` runs meanwhile and may
    send more shots itself (at once, ignoring their `at`)."""
    fired = Fired()
    started = time.monotonic()
    gate = asyncio.Semaphore(concurrency)
    turn = random.Random(seed).randrange(1000)
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def one(shot: Shot, before: asyncio.Event | None, done: asyncio.Event) -> None:
            try:
                await asyncio.sleep(max(0.0, started + shot.at - time.monotonic()))
                if before is not None:
                    await before.wait()
                await send(shot)
            finally:
                done.set()

        async def send(shot: Shot) -> None:
            nonlocal turn
            async with gate:
                for attempt in range(attempts):
                    urls = targets()
                    turn += 1
                    url = urls[turn % len(urls)]
                    path, body, headers = shot.build()
                    fired.sent_at.setdefault(shot.key, time.monotonic())
                    try:
                        async with client.post(url + path, data=body, headers=headers) as answer:
                            await answer.read()
                            if answer.status < 500:
                                if answer.status != 200:
                                    fired.refused.append(f"{shot.key}: HTTP {answer.status}")
                                fired.acked.setdefault(shot.key, time.monotonic())
                                return
                    except (aiohttp.ClientError, TimeoutError):
                        pass
                    fired.retried += 1
                    await asyncio.sleep(min(0.2 * (attempt + 1), 2.0))
                fired.failed.append(shot.key)

        last: dict[str, asyncio.Event] = {}
        tasks: list[Awaitable[None]] = []
        for shot in sorted(shots, key=lambda s: s.at):
            done = asyncio.Event()
            before = last.get(shot.chain) if shot.chain is not None else None
            if shot.chain is not None:
                last[shot.chain] = done
            tasks.append(one(shot, before, done))
        if alongside is not None:
            tasks.append(alongside(send))
        await asyncio.gather(*tasks)
    return fired


# -- what reached Slack ------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """A text found in a post: which post (its arrival), and its place in that post."""

    contact: int
    n: int
    post: int
    arrival: Arrival


def seen_texts(arrivals: list[Arrival]) -> list[Seen]:
    """Every text id found in the posts, in the order Slack shows them (post ts, then place)."""
    found = []
    ordered = sorted(enumerate(arrivals), key=lambda pair: float(pair[1].ts))
    for index, arrival in ordered:
        for match in MARKER.finditer(arrival.text):
            found.append(Seen(int(match[1]), int(match[2]), index, arrival))
    return found


@dataclass(frozen=True)
class Check:
    """Lost, duplicated and reordered texts per conversation, and split threads."""

    expected: int
    found: int
    lost: int
    duplicated: int
    reordered_contacts: int
    split_contacts: int
    examples: tuple[str, ...] = ()

    def clean(self) -> bool:
        """Nothing lost, doubled, reordered or split."""
        return not (self.lost or self.duplicated or self.reordered_contacts or self.split_contacts)


def check_texts(expected: dict[int, int], seen: list[Seen]) -> Check:
    """Compare what was sent (contact: how many texts, numbered 1..n) with what Slack shows."""
    by_contact: dict[int, list[Seen]] = defaultdict(list)
    for item in seen:
        by_contact[item.contact].append(item)
    lost = duplicated = reordered = split = 0
    examples: list[str] = []
    for contact, count in expected.items():
        items = by_contact.get(contact, [])
        numbers = [item.n for item in items]
        missing = set(range(1, count + 1)) - set(numbers)
        lost += len(missing)
        duplicated += len(numbers) - len(set(numbers))
        threads = len({item.arrival.thread_ts for item in items})
        reordered += numbers != sorted(numbers)
        split += threads > 1
        if missing or len(numbers) != len(set(numbers)) or numbers != sorted(numbers):
            examples.append(f"c{contact:04d}: " + " ".join(f"m{n}" for n in numbers))
        elif threads > 1:
            examples.append(f"c{contact:04d}: {threads} threads")
    found = sum(len(v) for v in by_contact.values())
    checked = Check(sum(expected.values()), found, lost, duplicated, reordered, split)
    return replace(checked, examples=tuple(examples[:5]))


def first_visible(seen: list[Seen]) -> dict[str, float]:
    """Text id → monotonic time its first post arrived in Slack."""
    visible: dict[str, float] = {}
    for item in seen:
        key = text_id(item.contact, item.n)
        visible[key] = min(visible.get(key, item.arrival.monotonic), item.arrival.monotonic)
    return visible


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.25) -> bool:
    """Poll until true or `timeout` seconds passed; whether it came true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def wait_quiet(slack: SlackEmulator, seconds: float, timeout: float) -> bool:
    """Wait until Slack got no post for `seconds` (the worker is idle); False on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        arrivals = slack.arrivals()
        last = arrivals[-1].monotonic if arrivals else 0.0
        if time.monotonic() - last >= seconds:
            return True
        time.sleep(0.2)
    return False
