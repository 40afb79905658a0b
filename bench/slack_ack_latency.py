"""Slack event acks: smsbridge against bare slack_bolt, at 50 concurrent and at a steady rate.

Goal G4 (issue 9): `POST /slack/events` throughput for message events >= 0.5x bare Bolt's
(`bench/bare_bolt.py`: verifies, runs a no-op listener, acks) at 50 concurrent connections, and
p99 <= 50 ms at a steady 100 events/s (open loop, latency from each event's scheduled send
time). Both servers run as real uvicorn processes on 127.0.0.1 and are measured in alternating
rounds of the same run, so the ratio holds on a noisy machine. smsbridge gets thread replies
from an admin in a real customer's thread: it stores each event before it acks, applies it in
the background (the reply and its send job), while its worker sends the queued SMS to a local
Twilio emulator (and reacts in a local Slack emulator) meanwhile. Nothing leaves 127.0.0.1.
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
from datetime import UTC, datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.inbound_latency import free_port  # noqa: E402
from bench.load import Prepared, Tally, burst, percentile, steady  # noqa: E402
from bench.results import write_section  # noqa: E402
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, CHANNEL, SIGNING_SECRET, base_env  # noqa: E402
from tests.emulators import SlackEmulator, TwilioEmulator  # noqa: E402
from tests.harness import Twilio  # noqa: E402
from tests.slack_events import SlackEvents, escape, rich_text_blocks  # noqa: E402

ADMIN = "UADMIN"
CUSTOMER = "+14155550100"
HEADING = "## Slack event acks (`POST /slack/events`, goal G4)"
THROUGHPUT_GOAL, STEADY_P99_MS = 0.5, 50.0
# Headers httpx computed for its own connection; aiohttp sets its own.
_HOP_HEADERS = frozenset({"host", "content-length", "connection", "accept-encoding", "accept"})


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


def prepared(requests: list[httpx.Request]) -> list[Prepared]:
    """httpx's signed requests as the load generator sends them."""
    return [
        Prepared(
            str(request.url),
            request.content,
            {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS},
        )
        for request in requests
    ]


def wait_stored(database: Path, expected: int, timeout: float) -> tuple[int, int, float]:
    """Wait until smsbridge has applied `expected` replies; (replies, send jobs, seconds)."""
    began = time.monotonic()
    while True:
        replies, jobs = stored_replies(database)
        waited = time.monotonic() - began
        if replies >= expected or waited > timeout:
            return replies, jobs, waited
        time.sleep(0.5)


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
    parser.add_argument("--rate", type=float, default=100.0, help="events/s of the steady load")
    parser.add_argument("--seconds", type=float, default=30.0, help="of steady load per server")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    tallies = {"bare Bolt": Tally(), "smsbridge": Tally()}
    steadies = {"bare Bolt": Tally(), "smsbridge": Tally()}
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

            def events(name: str, first: int, count: int) -> list[Prepared]:
                signed = signed_events(targets[name], thread_ts, first, count, seeds[name])
                return prepared(signed)

            for name in targets:  # warm-up, not measured
                asyncio.run(burst(events(name, 1_000_000, args.warmup), args.concurrency, Tally()))
            for round_ in range(args.rounds):
                order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
                for name in order:
                    requests = events(name, 1 + round_ * args.requests, args.requests)
                    asyncio.run(burst(requests, args.concurrency, tallies[name]))
            steady_count = int(args.rate * args.seconds)
            for name in targets:
                requests = events(name, 2_000_000, steady_count)
                asyncio.run(steady(requests, args.rate, steadies[name]))
            expected = args.warmup + args.rounds * args.requests + steady_count
            replies, jobs, waited = wait_stored(database, expected, timeout=180)
            sent = len(twilio_api.sent)
    failures = sum(len(t.failures) for t in (*tallies.values(), *steadies.values()))
    text = report(
        tallies, steadies, args, stored=(replies, jobs, expected), waited=waited, sent=sent
    )
    print(text)
    for name, tally in (*tallies.items(), *steadies.items()):
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


def _row(name: str, load: str, tally: Tally) -> str:
    values = tally.latencies
    p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
    mean = statistics.fmean(values) * 1000 if values else float("nan")
    top = max(values) * 1000 if values else float("nan")
    return (
        f"| {name} | {load} | {len(values)} | {len(tally.failures)} | {tally.throughput:.0f} | "
        f"{p50:.1f} | {p99:.1f} | {top:.1f} | {mean:.1f} |"
    )


def report(
    tallies: dict[str, Tally],
    steadies: dict[str, Tally],
    args: argparse.Namespace,
    *,
    stored: tuple[int, int, int],
    waited: float,
    sent: int,
) -> str:
    command = " ".join(["python", "bench/slack_ack_latency.py", *sys.argv[1:]])
    replies, jobs, expected = stored
    ratio = tallies["smsbridge"].throughput / tallies["bare Bolt"].throughput
    steady_p99 = percentile(steadies["smsbridge"].latencies, 99) * 1000
    checks = [
        (f"throughput ratio {ratio:.2f}x >= {THROUGHPUT_GOAL}x", ratio >= THROUGHPUT_GOAL),
        (
            f"p99 at {args.rate:.0f}/s {steady_p99:.1f} ms <= {STEADY_P99_MS:.0f} ms",
            steady_p99 <= STEADY_P99_MS,
        ),
    ]
    lines = [
        HEADING,
        "",
        f"- measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"- command: `{command}` (also `make bench`)",
        f"- burst: {args.concurrency} concurrent connections (closed loop) sending signed "
        f"`message` events (an admin's replies in one customer's thread), {args.rounds} "
        f"alternating round(s) of {args.requests} per server (order swapped each round) after "
        f"{args.warmup} unmeasured warm-up events each; requests are signed just before each round",
        f"- steady: {args.rate:.0f} events/s for {args.seconds:.0f} s per server, open loop, "
        "latency from each event's scheduled send time",
        "- smsbridge stores each verified event (SQLite, WAL) before its 200 and applies it in "
        f"the background ({replies} replies / {jobs} send jobs stored for {expected} events, "
        f"the last {waited:.1f} s after the load ended), while its worker sends the queued SMS "
        f"to a local Twilio emulator meanwhile at the default pace (`TWILIO_MPS=1`; {sent} sent "
        "during the run)",
        "- bare Bolt: `bench/bare_bolt.py`, slack_bolt's `App` with a no-op `message` listener "
        "behind its own Starlette adapter (`process_before_response=True`, no storage)",
        "",
        "| endpoint | load | 200s | non-200 | events/s | p50 ms | p99 ms | max ms | mean ms |",
        "|---|---|---|---|---|---|---|---|---|",
        *(_row(name, f"{args.concurrency} concurrent", t) for name, t in tallies.items()),
        *(_row(name, f"{args.rate:.0f}/s", t) for name, t in steadies.items()),
        "",
        "Goal G4: "
        + "; ".join(f"{label} {'met' if ok else 'NOT met'}" for label, ok in checks)
        + f" — **{'met' if all(ok for _, ok in checks) else 'NOT met'}**.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
