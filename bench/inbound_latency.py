"""Inbound ack latency at 50 concurrent webhooks: smsbridge against a signature-only endpoint.

Both servers run as real uvicorn processes on 127.0.0.1, measured alternately in the same
run, so the ratio holds on a noisy machine. smsbridge posts to a local Slack emulator meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, base_env  # noqa: E402
from tests.emulators import SlackEmulator, TwilioEmulator  # noqa: E402
from tests.harness import Twilio  # noqa: E402


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
        proc.wait(20)


async def fire(twilio: Twilio, first: int, count: int, concurrency: int) -> list[float]:
    """Send `count` signed webhooks, `concurrency` at a time; per-request seconds."""
    # Signed beforehand, so the client's own work is not in the measurement.
    signed = []
    for n in range(first, first + count):
        params = twilio.params(n, f"benchmark text {n}", f"+1415555{n % 10000:04d}")
        signed.append((params, {"X-Twilio-Signature": twilio.signature(params)}))
    latencies: list[float] = []
    queue = iter(signed)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(twilio.base_url, connector=connector) as client:

        async def sender() -> None:
            for params, headers in queue:
                started = time.perf_counter()
                async with client.post("/twilio/sms", data=params, headers=headers) as answer:
                    await answer.read()
                    latencies.append(time.perf_counter() - started)
                    assert answer.status == 200, await answer.text()

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return latencies


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=1000, help="per round and server")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    results: dict[str, list[float]] = {"bare": [], "smsbridge": []}
    with (
        tempfile.TemporaryDirectory() as tmp,
        SlackEmulator() as slack,
        TwilioEmulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as twilio_api,
    ):
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
        bare_env = {**app_env, "PUBLIC_URL": f"http://127.0.0.1:{bare_port}"}
        uvicorn = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
        bare_cmd = [*uvicorn, "--port", str(bare_port), "bench.bare_endpoint:app"]
        app_cmd = [sys.executable, "-m", "bridge", "serve", "--port", str(app_port)]
        with (
            server(bare_cmd, bare_env, f"http://127.0.0.1:{bare_port}", ROOT),
            server(app_cmd, app_env, f"http://127.0.0.1:{app_port}", Path(tmp)),
        ):
            twilios = {
                "bare": Twilio(f"http://127.0.0.1:{bare_port}", f"http://127.0.0.1:{bare_port}"),
                "smsbridge": Twilio(f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{app_port}"),
            }
            for twilio in twilios.values():  # warm-up, not measured
                asyncio.run(fire(twilio, 10_000_000, 100, args.concurrency))
            for round_ in range(args.rounds):
                for name, twilio in twilios.items():
                    first = 1 + round_ * args.requests
                    results[name] += asyncio.run(
                        fire(twilio, first, args.requests, args.concurrency)
                    )
    report(results, args)


def report(results: dict[str, list[float]], args: argparse.Namespace) -> None:
    rows = []
    for name, values in results.items():
        p50, p99 = percentile(values, 50) * 1000, percentile(values, 99) * 1000
        rows.append((name, len(values), p50, p99, statistics.fmean(values) * 1000))
    bare, app = rows[0], rows[1]
    command = " ".join(["python", "bench/inbound_latency.py", *sys.argv[1:]])
    lines = [
        "## Inbound ack latency (`POST /twilio/sms`)",
        "",
        f"- measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}",
        f"- command: `{command}` (also `make bench`)",
        f"- {args.concurrency} concurrent signed webhooks, {args.rounds} alternating rounds of "
        f"{args.requests} per server; SQLite (WAL); the delivery worker posts to a local "
        "Slack emulator meanwhile at the default pace (`SLACK_POST_RATE=1`)",
        "",
        "| endpoint | requests | p50 ms | p99 ms | mean ms |",
        "|---|---|---|---|---|",
        *(f"| {n} | {c} | {p50:.1f} | {p99:.1f} | {m:.1f} |" for n, c, p50, p99, m in rows),
        "",
        f"Ratio smsbridge / signature-only: p50 {app[2] / bare[2]:.2f}x, "
        f"p99 {app[3] / bare[3]:.2f}x.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_section(args.out, "inbound_latency", text)


if __name__ == "__main__":
    main()
