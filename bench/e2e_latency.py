"""End to end with no backlog (issue 9, G5): a text's webhook ack to its post arriving in Slack.

One `smsbridge serve` (SQLite) and the in-process Slack emulator, which enforces the same
per-channel budget as the service (`SLACK_POST_RATE`/`SLACK_POST_BURST`) and notes when each
post arrives. Contacts that already have threads text one at a time, slower than the budget,
so nothing waits for a token: what is measured is the path itself (store, wake the worker,
claim, render, post). Both times are on the bench's monotonic clock (the emulator runs in this
process). Reference, same run: a bare `slack_sdk` `chat_postMessage` from this process to the
same emulator (call start to arrival), the floor of any post.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from slack_sdk import WebClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    Server,
    bridge_env,
    emulators,
    environment_lines,
    first_visible,
    free_port,
    percentile,
    phone,
    seen_texts,
    serve_command,
    text_id,
    wait_quiet,
)
from bench.results import write_section  # noqa: E402
from tests.conftest import SLACK_TOKEN  # noqa: E402
from tests.emulators import SlackEmulator  # noqa: E402
from tests.harness import Twilio  # noqa: E402

GOAL_P50_MS, GOAL_P99_MS = 50.0, 250.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=150, help="measured texts")
    parser.add_argument("--contacts", type=int, default=10)
    parser.add_argument("--rate", type=float, default=1.0, help="SLACK_POST_RATE (the default)")
    parser.add_argument("--burst", type=int, default=3, help="SLACK_POST_BURST (the default)")
    parser.add_argument("--spacing", type=float, default=1.25, help="x 1/rate between texts")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    slack, twilio_api = emulators(rate=args.rate, burst=args.burst)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    gap = args.spacing / args.rate
    acked: dict[str, float] = {}
    ack_ms: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        env = bridge_env(
            slack=slack,
            twilio=twilio_api,
            database_url=f"sqlite:///{tmp}/bench.db",
            public_url=url,
            SLACK_POST_RATE=str(args.rate),
            SLACK_POST_BURST=str(args.burst),
            AUTORESPOND="off",
        )
        server = Server(serve_command(port), env, port, ROOT, Path(tmp) / "serve.log").start()
        try:
            phone_ = Twilio(base_url=url, public_url=url)
            with httpx.Client(timeout=30) as client:
                sid = 0

                def text(contact: int, body: str) -> float:
                    nonlocal sid
                    sid += 1
                    params = phone_.params(sid, body, phone(contact))
                    headers = {"X-Twilio-Signature": phone_.signature(params)}
                    started = time.monotonic()
                    answer = client.post(f"{url}/twilio/sms", data=params, headers=headers)
                    done = time.monotonic()
                    assert answer.status_code == 200, answer.text
                    ack_ms.append((done - started) * 1000)
                    return done

                # Threads first (not measured): every contact texts once, then all is posted.
                for contact in range(1, args.contacts + 1):
                    text(contact, f"hello from contact {contact}")
                    time.sleep(gap)
                wait_quiet(slack, seconds=3, timeout=120)
                ack_ms.clear()
                posts_before = len(slack.arrivals())
                for n in range(args.texts):
                    contact = 1 + n % args.contacts
                    key = text_id(contact, 1 + n // args.contacts)
                    acked[key] = text(contact, key)
                    time.sleep(gap)
                wait_quiet(slack, seconds=3, timeout=60)
            arrivals = slack.arrivals()
            visible = first_visible(seen_texts(arrivals[posts_before:]))
            ratelimited = slack.ratelimited
            log_tail = (Path(tmp) / "serve.log").read_text()[-2000:]
        finally:
            server.stop()
    reference = measure_reference(slack, args.texts, gap=0.05)
    slack.stop()
    twilio_api.stop()

    latencies = [(visible[key] - at) * 1000 for key, at in acked.items() if key in visible]
    missing = len(acked) - len(latencies)
    text_ = report(args, latencies, reference, ack_ms, missing=missing, ratelimited=ratelimited)
    print(text_)
    if missing:
        print(f"{missing} texts never reached Slack; server log tail:\n{log_tail}", file=sys.stderr)
    if args.out:
        write_section(args.out, "e2e_latency", text_)
    return 0


def measure_reference(slack: SlackEmulator, count: int, gap: float) -> list[float]:
    """A bare chat_postMessage, call start to arrival in the emulator, in ms."""
    slack.no_rate_limit()
    web = WebClient(base_url=slack.url, token=SLACK_TOKEN, timeout=10)
    web.chat_postMessage(channel="C0REFERENCE", text="warm-up")
    out = []
    for n in range(count):
        started = time.monotonic()
        answer = web.chat_postMessage(channel="C0REFERENCE", text=f"reference {n}")
        arrival = next(a for a in reversed(slack.arrivals()) if a.ts == answer["ts"])
        out.append((arrival.monotonic - started) * 1000)
        time.sleep(gap)
    return out


def stats(values: list[float]) -> tuple[float, float, float, float]:
    values = values or [float("nan")]
    return (
        percentile(values, 50),
        percentile(values, 99),
        statistics.fmean(values),
        max(values),
    )


def report(
    args: argparse.Namespace,
    latencies: list[float],
    reference: list[float],
    ack_ms: list[float],
    *,
    missing: int,
    ratelimited: int,
) -> str:
    e2e, ref, ack = stats(latencies), stats(reference), stats(ack_ms)
    met = e2e[0] <= GOAL_P50_MS and e2e[1] <= GOAL_P99_MS and not missing
    lines = [
        "## End to end, no backlog (G5): webhook ack to the post in Slack",
        "",
        f"Goal: p50 <= {GOAL_P50_MS:.0f} ms, p99 <= {GOAL_P99_MS:.0f} ms from the ack of "
        "`POST /twilio/sms` to the post's arrival in the Slack emulator. "
        f"**{'Met' if met else 'Not met'}.**",
        "",
        *environment_lines("e2e_latency.py"),
        f"- one `smsbridge serve`, SQLite (WAL); {args.contacts} contacts that already have "
        f"threads text in turn, one text every {args.spacing / args.rate:.2f} s "
        f"({args.spacing}x slower than `SLACK_POST_RATE={args.rate:g}`, "
        f"`SLACK_POST_BURST={args.burst}`); the Slack emulator enforces the same budget "
        f"per channel ({ratelimited} answered 429); `AUTORESPOND=off`",
        "- latency: the bench's monotonic clock when the webhook's 200 came back, to the "
        "emulator's monotonic clock when the `chat.postMessage` carrying the text arrived "
        "(same process); texts are found by their unique bodies",
        "- reference: a bare `slack_sdk` `chat_postMessage` from the bench to the same emulator, "
        "call start to arrival, in the same run",
        "",
        "| path | samples | p50 ms | p99 ms | mean ms | max ms |",
        "|---|---|---|---|---|---|",
        f"| smsbridge: ack to post | {len(latencies)} | {e2e[0]:.1f} | {e2e[1]:.1f} | "
        f"{e2e[2]:.1f} | {e2e[3]:.1f} |",
        f"| reference: bare chat_postMessage | {len(reference)} | {ref[0]:.1f} | {ref[1]:.1f} | "
        f"{ref[2]:.1f} | {ref[3]:.1f} |",
        f"| (context) webhook round trip | {len(ack_ms)} | {ack[0]:.1f} | {ack[1]:.1f} | "
        f"{ack[2]:.1f} | {ack[3]:.1f} |",
        "",
        f"Ratio smsbridge / reference: p50 {e2e[0] / ref[0]:.1f}x, p99 {e2e[1] / ref[1]:.1f}x."
        + (f" {missing} texts never reached Slack." if missing else ""),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
