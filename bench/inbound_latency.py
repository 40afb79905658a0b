"""Inbound webhook throughput at 50 concurrent connections: smsbridge against a reference.

Goal G1 (issue 9): `POST /twilio/sms` throughput >= 0.5x the reference's, a bare endpoint that
checks the signature, parses the form and inserts one row with SQLAlchemy into SQLite (WAL)
(`bench/bare_endpoint.py`). Both servers run as real uvicorn processes on 127.0.0.1 and are
measured in alternating rounds of the same run, so the ratio holds on a noisy machine.
smsbridge runs as in production: its intake applies the texts and its delivery worker posts to
a local Slack emulator meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
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
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import Prepared, Tally, burst, percentile  # noqa: E402
from bench.results import write_section  # noqa: E402
from store.intake import intake_file_of  # noqa: E402
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, base_env  # noqa: E402
from tests.emulators import SlackEmulator, TwilioEmulator  # noqa: E402
from tests.harness import Twilio  # noqa: E402

GOAL = 0.5
__all__ = ["free_port", "percentile", "server", "servers", "signed_texts"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(command: list[str], env: dict[str, str], url: str, cwd: Path) -> Iterator[None]:
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
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def signed_texts(twilio: Twilio, first: int, count: int, senders: int = 10_000) -> list[Prepared]:
    """Signed inbound-text webhooks, prepared beforehand so the client's work is not measured."""
    prepared = []
    for n in range(first, first + count):
        params = twilio.params(n, f"benchmark text {n}", f"+1415555{n % senders:04d}")
        headers = {
            "X-Twilio-Signature": twilio.signature(params),
            "Content-Type": "application/x-www-form-urlencoded",
        }
        prepared.append(
            Prepared(f"{twilio.base_url}/twilio/sms", urlencode(params).encode(), headers)
        )
    return prepared


@contextmanager
def servers(
    tmp: Path, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> Iterator[dict[str, Twilio]]:
    """The reference and smsbridge, serving; a Twilio signer for each."""
    bare_port, app_port = free_port(), free_port()
    common = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    app_env = {
        **common,
        **base_env(
            SLACK_API_URL=slack.url,
            # The autoresponder answers each new sender: locally, never api.twilio.com.
            TWILIO_API_URL=twilio_api.url,
            DATABASE_URL=f"sqlite:///{tmp}/bench.db",
            PUBLIC_URL=f"http://127.0.0.1:{app_port}",
            LOG_LEVEL="WARNING",
        ),
    }
    bare_env = {
        **app_env,
        "PUBLIC_URL": f"http://127.0.0.1:{bare_port}",
        "BARE_DATABASE_URL": f"sqlite:///{tmp}/bare.db",
    }
    uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
    bare_cmd = [*uvicorn, "--port", str(bare_port), "bench.bare_endpoint:app"]
    app_cmd = [sys.executable, "-m", "bridge", "serve", "--port", str(app_port)]
    bare_url, app_url = f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{app_port}"
    with server(bare_cmd, bare_env, bare_url, ROOT), server(app_cmd, app_env, app_url, tmp):
        yield {"reference": Twilio(bare_url, bare_url), "smsbridge": Twilio(app_url, app_url)}


def wait_applied(database: Path, timeout: float) -> tuple[int, float]:
    """Wait for smsbridge's intake backlog to drain; (rows still waiting, seconds waited)."""
    # Stored webhooks live in a file of their own next to a SQLite database.
    rows = intake_file_of(database)
    began = time.monotonic()
    while True:
        with closing(sqlite3.connect(rows)) as db:
            waiting = int(db.execute("SELECT count(*) FROM webhook_intake").fetchone()[0])
        if waiting == 0 or time.monotonic() - began > timeout:
            return waiting, time.monotonic() - began
        time.sleep(0.5)


def texts_stored(database: Path) -> int:
    with closing(sqlite3.connect(database)) as db:
        query = "SELECT count(*) FROM message WHERE direction = 'inbound'"
        return int(db.execute(query).fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="per round and server")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    tallies = {"reference": Tally(), "smsbridge": Tally()}
    with (
        tempfile.TemporaryDirectory() as tmp,
        SlackEmulator() as slack,
        TwilioEmulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as twilio_api,
        servers(Path(tmp), slack, twilio_api) as twilios,
    ):
        for twilio in twilios.values():  # warm-up, not measured
            asyncio.run(burst(signed_texts(twilio, 10_000_000, 100), args.concurrency, Tally()))
        for round_ in range(args.rounds):
            order = list(twilios) if round_ % 2 == 0 else list(reversed(twilios))
            for name in order:
                requests = signed_texts(twilios[name], 1 + round_ * args.requests, args.requests)
                asyncio.run(burst(requests, args.concurrency, tallies[name]))
        waiting, drained = wait_applied(Path(tmp) / "bench.db", timeout=120)
        stored = texts_stored(Path(tmp) / "bench.db")
        posts = len(slack.top_level(base_env()["SLACK_CHANNEL"]))
    text = report(tallies, args, waiting=waiting, drained=drained, stored=stored, posts=posts)
    print(text)
    for name, tally in tallies.items():
        for failure in tally.failures[:5]:
            print(f"{name} failure: {failure}", file=sys.stderr)
    if args.out:
        write_section(args.out, "inbound_latency", text)


def report(
    tallies: dict[str, Tally],
    args: argparse.Namespace,
    *,
    waiting: int,
    drained: float,
    stored: int,
    posts: int,
) -> str:
    rows = []
    for name, tally in tallies.items():
        values = tally.latencies
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        mean = statistics.fmean(values) * 1000 if values else float("nan")
        rows.append((name, len(values), len(tally.failures), tally.throughput, p50, p99, mean))
    ratio = tallies["smsbridge"].throughput / tallies["reference"].throughput
    command = " ".join(["python", "bench/inbound_latency.py", *sys.argv[1:]])
    total = args.rounds * args.requests + 100
    lines = [
        "## Inbound webhook throughput (`POST /twilio/sms`, goal G1)",
        "",
        f"- measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"- command: `{command}` (also `make bench`)",
        f"- {args.concurrency} concurrent connections (closed loop), {args.rounds} alternating "
        f"rounds of {args.requests} signed webhooks per server after 100 unmeasured each",
        "- reference: `bench/bare_endpoint.py`, checks the signature, parses the form and "
        "inserts one row with SQLAlchemy into SQLite (WAL), in the same run",
        "- smsbridge stores each verified webhook (SQLite, WAL) before its 200; its intake "
        "applies the texts (`bridge.inbound.accept`) in the background and its delivery worker "
        "posts to a local Slack emulator meanwhile at the default pace (`SLACK_POST_RATE=1`)",
        f"- after the rounds: {stored} of {total} texts applied, intake backlog drained in "
        f"{drained:.1f} s ({waiting} rows still waiting); {posts} threads posted to Slack",
        "",
        "| endpoint | 200s | non-200 | requests/s | p50 ms | p99 ms | mean ms |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {n} | {c} | {f} | {t:.0f} | {p50:.1f} | {p99:.1f} | {m:.1f} |"
            for n, c, f, t, p50, p99, m in rows
        ),
        "",
        f"Throughput smsbridge / reference: **{ratio:.2f}x** (goal >= {GOAL}x: "
        f"{'met' if ratio >= GOAL else 'NOT met'}).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
