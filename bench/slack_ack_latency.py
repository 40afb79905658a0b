"""Slack event ack latency at 50 concurrent signed events: smsbridge against bare slack_bolt.

Both servers run as real uvicorn processes on 127.0.0.1 and are measured in alternating rounds
of the same run, so the ratio holds on a noisy machine. smsbridge gets thread replies from an
admin in a real customer's thread: it stores each reply and its send job in SQLite before it
acks, while its worker sends the queued SMS to a local Twilio emulator (and reacts in a local
Slack emulator) meanwhile. Bare Bolt (`bench/bare_bolt.py`) verifies, runs a no-op listener and
acks. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inbound_latency import free_port, percentile  # noqa: E402
from bench.results import write_section  # noqa: E402
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, CHANNEL, SIGNING_SECRET, base_env  # noqa: E402
from tests.emulators import SlackEmulator, TwilioEmulator  # noqa: E402
from tests.harness import Twilio  # noqa: E402
from tests.slack_events import SlackEvents, escape, rich_text_blocks  # noqa: E402

ADMIN = "UADMIN"
CUSTOMER = "+14155550100"
HEADING = "## Slack event ack latency (`POST /slack/events`)"
# Headers httpx computed for its own connection; aiohttp sets its own.
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding", "accept"})


@dataclass
class Tally:
    """One server's measurements over all rounds."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@contextmanager
def server(command: list[str], env: dict[str, str], url: str, cwd: Path) -> Iterator[None]:
    """Run `command` until the block ends; ready once GET /healthz answers 200."""
    proc = subprocess.Popen(command, env=env, cwd=cwd)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{command} exited with {proc.returncode} before it was ready")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} was not ready within 30 s")
            time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_thread(url: str, slack: SlackEmulator) -> str:
    """A customer texts in and opts in; returns the ts of their thread's parent in Slack."""
    phone = Twilio(base_url=url, public_url=url)
    for n, body in enumerate(("hello", "START"), start=1):
        answer = phone.text(n, body, CUSTOMER)
        assert answer.status_code == 200, answer.text
    slack.wait_for(lambda: len(slack.top_level(CHANNEL)) == 1, timeout=30)
    [parent] = slack.top_level(CHANNEL)
    # The consent confirmation lands in the thread; then the contact is known to be opted in.
    slack.wait_for(lambda: len(slack.thread(CHANNEL, str(parent["ts"]))) >= 2, timeout=30)
    return str(parent["ts"])


def signed_events(
    events: SlackEvents, thread_ts: str, first: int, count: int, slack: SlackEmulator | None
) -> list[httpx.Request]:
    """`count` signed thread replies by the admin; sign them right before firing them.

    With `slack`, each reply is first stored in the emulator as Slack would have it, so the
    worker's reactions on it find it."""
    requests = []
    for n in range(first, first + count):
        text = f"reply {n}"
        blocks = rich_text_blocks(text)
        ts = None
        if slack is not None:
            ts = slack.add_message(
                CHANNEL, escape(text), user=ADMIN, thread_ts=thread_ts, blocks=blocks
            )
        event = events.message_event(
            CHANNEL, ADMIN, text, ts=ts, thread_ts=thread_ts, blocks=blocks
        )
        requests.append(events.request(events.envelope(event)))
    return requests


async def fire(requests: list[httpx.Request], concurrency: int, tally: Tally) -> None:
    """Send the requests, `concurrency` at a time; per-request seconds of the 200s in `tally`."""
    queue = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:

        async def sender() -> None:
            for request in queue:
                headers = {
                    k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS
                }
                started = time.perf_counter()
                try:
                    async with client.post(
                        str(request.url), data=request.content, headers=headers
                    ) as answer:
                        body = await answer.read()
                        elapsed = time.perf_counter() - started
                        if answer.status == 200:
                            tally.latencies.append(elapsed)
                        else:
                            text = body[:200].decode(errors="replace")
                            tally.failures.append(f"HTTP {answer.status}: {text}")
                except (aiohttp.ClientError, TimeoutError) as exc:
                    tally.failures.append(f"{type(exc).__name__}: {exc}")

        await asyncio.gather(*(sender() for _ in range(concurrency)))


def stored_replies(database: Path) -> tuple[int, int]:
    """Replies and send jobs smsbridge stored (the bench's proof that events took the real path)."""
    queries = (
        "SELECT count(*) FROM message WHERE kind = 'reply' AND direction = 'outbound'",
        "SELECT count(*) FROM delivery_job WHERE kind = 'send_reply'",
    )
    with closing(sqlite3.connect(database)) as db:
        replies, jobs = (int(db.execute(query).fetchone()[0]) for query in queries)
    return replies, jobs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=500, help="per round and server")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=100, help="unmeasured events per server")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    tallies = {"bare Bolt": Tally(), "smsbridge": Tally()}
    with (
        tempfile.TemporaryDirectory() as tmp,
        SlackEmulator() as slack,
        TwilioEmulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as twilio_api,
    ):
        slack.add_user(ADMIN, "ann", is_admin=True)
        database = Path(tmp) / "bench.db"
        bare_port, app_port = free_port(), free_port()
        bare_url, app_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{app_port}"
        common = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
        app_env = {
            **common,
            **base_env(
                SLACK_API_URL=slack.url,
                TWILIO_API_URL=twilio_api.url,
                DATABASE_URL=f"sqlite:///{database}",
                PUBLIC_URL=app_url,
                LOG_LEVEL="WARNING",
            ),
        }
        # No SLACK_BOT_TOKEN: Bolt would read it; bare_bolt.py authorizes with a fixed token.
        bare_env = {**common, "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": slack.url}
        uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
        bare_cmd = [*uvicorn, "--port", str(bare_port), "bench.bare_bolt:app"]
        app_cmd = [sys.executable, "-m", "bridge", "serve", "--port", str(app_port)]
        with server(bare_cmd, bare_env, bare_url, ROOT), server(app_cmd, app_env, app_url, ROOT):
            thread_ts = start_thread(app_url, slack)
            targets = {
                "bare Bolt": SlackEvents(base_url=bare_url, signing_secret=SIGNING_SECRET),
                "smsbridge": SlackEvents(base_url=app_url, signing_secret=SIGNING_SECRET),
            }
            seeds = {"bare Bolt": None, "smsbridge": slack}
            for name, events in targets.items():  # warm-up, not measured
                requests = signed_events(events, thread_ts, 1_000_000, args.warmup, seeds[name])
                asyncio.run(fire(requests, args.concurrency, Tally()))
            for round_ in range(args.rounds):
                order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
                for name in order:
                    first = 1 + round_ * args.requests
                    requests = signed_events(
                        targets[name], thread_ts, first, args.requests, seeds[name]
                    )
                    asyncio.run(fire(requests, args.concurrency, tallies[name]))
            replies, jobs = stored_replies(database)
            sent = len(twilio_api.sent)
    expected = args.warmup + args.rounds * args.requests
    failures = sum(len(t.failures) for t in tallies.values())
    text = report(tallies, args, stored=(replies, jobs, expected), sent=sent)
    print(text)
    for name, tally in tallies.items():
        for failure in tally.failures[:5]:
            print(f"{name} failure: {failure}", file=sys.stderr)
    if failures or replies < expected or jobs < expected:
        print(
            f"bench failed: {failures} non-200 answers; smsbridge stored {replies} replies and "
            f"{jobs} send jobs of {expected} events (results not written)",
            file=sys.stderr,
        )
        return 1
    if args.out:
        write_section(args.out, "slack_ack_latency", text)
    return 0


def report(
    tallies: dict[str, Tally], args: argparse.Namespace, *, stored: tuple[int, int, int], sent: int
) -> str:
    rows = []
    for name, tally in tallies.items():
        values = tally.latencies or [float("nan")]
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        mean = statistics.fmean(values) * 1000
        rows.append((name, len(tally.latencies), len(tally.failures), p50, p99, mean))
    bare, app = rows[0], rows[1]
    command = " ".join(["python", "bench/slack_ack_latency.py", *sys.argv[1:]])
    replies, jobs, expected = stored
    lines = [
        HEADING,
        "",
        f"- measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"- command: `{command}` (also `make bench`)",
        f"- {args.concurrency} concurrent signed `message` events (an admin's replies in one "
        f"customer's thread), {args.rounds} alternating round(s) of {args.requests} per server "
        f"(order swapped each round) after {args.warmup} unmeasured warm-up events each; "
        "requests are signed just before each round",
        "- smsbridge stores each reply and its send job in SQLite (WAL) before it acks "
        f"({replies} replies / {jobs} send jobs stored for {expected} events), while its "
        "worker sends the queued SMS to a local Twilio emulator meanwhile at the default pace "
        f"(`TWILIO_MPS=1`; {sent} sent during the run)",
        "- bare Bolt: `bench/bare_bolt.py`, slack_bolt's `App` with a no-op `message` listener "
        "behind its own Starlette adapter (`process_before_response=True`, no storage)",
        "",
        "| endpoint | requests | non-200 | p50 ms | p99 ms | mean ms |",
        "|---|---|---|---|---|---|",
        *(
            f"| {n} | {c} | {f} | {p50:.1f} | {p99:.1f} | {m:.1f} |"
            for n, c, f, p50, p99, m in rows
        ),
        "",
        f"Ratio smsbridge / bare Bolt: p50 {app[3] / bare[3]:.2f}x, p99 {app[4] / bare[4]:.2f}x.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
