"""A burst into one channel (issue 9, G6): 5,000 texts from 1,000 contacts in 10 minutes.

Time-compressed by `--factor` F: the service runs with `SLACK_POST_RATE=F` (the default budget
is 1/s) and the arrival window shrinks by F, so every ratio is the one of the real burst. The
Slack emulator enforces the same budget per channel (token bucket, `--slack-burst`) and answers
429 `ratelimited` beyond it, like Slack. One `smsbridge serve`, SQLite.

Arrivals: each contact has one exchange of `--texts` texts within ~20 s (real time): the first
at its start, the others at uniformly random moments of the exchange; the contacts' starts are
uniformly random over the window. Every text's body is unique (`c0042 m3`), so it can be found
in whatever post carries it (a combined post holds several). Webhooks are sent open loop at
their times, up to 200 at once; a contact's next text goes once its previous one was answered
(a phone sends in order), so the order in which the service received them is the numbering.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    CHANNEL,
    Arrival,
    Check,
    Fired,
    Server,
    Shot,
    bridge_env,
    check_texts,
    emulators,
    environment_lines,
    fire,
    first_visible,
    free_port,
    phone,
    seen_texts,
    serve_command,
    text_id,
    twilio_shot,
)
from bench.results import write_section  # noqa: E402
from tests.harness import Twilio  # noqa: E402


@dataclass(frozen=True)
class Plan:
    """Who texts when (seconds into the compressed run)."""

    texts: list[tuple[float, int, int]]  # (at, contact, n)
    contacts: int
    per_contact: int
    window: float  # real seconds
    exchange: float  # real seconds
    factor: float

    def expected(self) -> dict[int, int]:
        """Contact → how many texts it sends."""
        return dict.fromkeys(range(1, self.contacts + 1), self.per_contact)


def make_plan(
    *, contacts: int, per_contact: int, window: float, exchange: float, factor: float, seed: int
) -> Plan:
    """Contacts' exchanges spread over the window, each text's time drawn in its exchange."""
    rng = random.Random(seed)
    texts = []
    for contact in range(1, contacts + 1):
        start = rng.uniform(0, window - exchange)
        moments = [0.0, *sorted(rng.uniform(0, exchange) for _ in range(per_contact - 1))]
        texts += [((start + m) / factor, contact, n) for n, m in enumerate(moments, start=1)]
    texts.sort()
    return Plan(texts, contacts, per_contact, window, exchange, factor)


def text_shots(plan: Plan, twilio: Twilio, *, first_sid: int = 1) -> list[Shot]:
    """The plan's inbound-SMS webhooks (MessageSid = first_sid + index)."""
    return [
        twilio_shot(twilio, at, text_id(c, n), first_sid + i, text_id(c, n), phone(c))
        for i, (at, c, n) in enumerate(plan.texts)
    ]


@dataclass(frozen=True)
class Drain:
    """How the backlog went: the figures G6 and G7 report."""

    posts: int
    lower_bound: int
    ratelimited: int
    backlog_rate: float
    backlog_posts: int
    drain_seconds: float
    drained: bool
    peak_backlog: int
    check: Check


def analyse(
    plan: Plan, fired: Fired, arrivals: list[Arrival], *, ratelimited: int, threshold: int = 20
) -> Drain:
    """Posts made, the backlog's post rate and the drain time, from acks and arrivals."""
    arrivals = [a for a in arrivals if a.channel == CHANNEL]
    seen = seen_texts(arrivals)
    check = check_texts(plan.expected(), seen)
    visible = first_visible(seen)
    start = min(fired.acked.values(), default=0.0)
    drained = len(visible) >= len(plan.texts)
    end = max(visible.values(), default=start)
    # Backlog: texts acknowledged but not yet in Slack, over time.
    steps = sorted([(at, 1) for at in fired.acked.values()] + [(at, -1) for at in visible.values()])
    backlog = peak = 0
    since: float | None = None
    for at, step in steps:
        backlog += step
        peak = max(peak, backlog)
        if since is None and backlog >= threshold:
            since = at
    during = [a.monotonic for a in arrivals if since is not None and since <= a.monotonic <= end]
    rate = (len(during) - 1) / (during[-1] - during[0]) if len(during) > 1 else 0.0
    return Drain(
        posts=len(arrivals),
        lower_bound=2 * plan.contacts,
        ratelimited=ratelimited,
        backlog_rate=rate,
        backlog_posts=len(during),
        drain_seconds=end - start,
        drained=drained,
        peak_backlog=peak,
        check=check,
    )


def burst_arguments(parser: argparse.ArgumentParser) -> None:
    """The burst's shape and pace, shared with bench/burst_faults.py."""
    parser.add_argument("--contacts", type=int, default=1000)
    parser.add_argument("--texts", type=int, default=5, help="per contact")
    parser.add_argument("--window", type=float, default=600, help="real seconds")
    parser.add_argument("--exchange", type=float, default=20, help="real seconds per contact")
    parser.add_argument("--factor", type=float, default=10, help="time compression")
    parser.add_argument("--burst", type=int, default=3, help="SLACK_POST_BURST")
    parser.add_argument("--slack-burst", type=int, default=None, help="emulator's (= --burst)")
    parser.add_argument("--give-up", type=float, default=270, help="seconds after the start")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--out", type=Path)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    burst_arguments(parser)
    args = parser.parse_args()

    plan = make_plan(
        contacts=args.contacts,
        per_contact=args.texts,
        window=args.window,
        exchange=args.exchange,
        factor=args.factor,
        seed=args.seed,
    )
    rate = args.factor  # the default budget, 1 post/s, compressed
    slack_burst = args.slack_burst or args.burst
    slack, twilio_api = emulators(rate=rate, burst=slack_burst)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        env = bridge_env(
            slack=slack,
            twilio=twilio_api,
            database_url=f"sqlite:///{tmp}/bench.db",
            public_url=url,
            SLACK_POST_RATE=f"{rate:g}",
            SLACK_POST_BURST=str(args.burst),
            AUTORESPOND="off",
        )
        server = Server(serve_command(port), env, port, ROOT, Path(tmp) / "serve.log").start()
        try:
            started = time.monotonic()
            shots = text_shots(plan, Twilio(base_url=url, public_url=url))
            fired = asyncio.run(fire(shots, lambda: [url], concurrency=200))
            total = len(plan.texts)

            def visible() -> int:
                return len(first_visible(seen_texts(slack.arrivals())))

            while visible() < total and time.monotonic() - started < args.give_up:
                time.sleep(1)
            time.sleep(2)  # anything posted twice after the last text shows up too
        finally:
            server.stop()
    drain = analyse(plan, fired, slack.arrivals(), ratelimited=slack.ratelimited)
    slack.stop()
    twilio_api.stop()
    text = report(args, plan, fired, drain, rate=rate, slack_burst=slack_burst)
    print(text)
    if args.out:
        write_section(args.out, "burst", text)
    return 0


def drain_rows(drain: Drain, rate: float) -> list[str]:
    """The table G6 and G7 share."""
    ideal = drain.lower_bound / rate
    made = drain.posts / rate
    state = "" if drain.drained else " (not drained when the bench gave up)"
    c = drain.check
    return [
        "| measure | value |",
        "|---|---|",
        f"| texts sent / found in Slack | {c.expected} / {c.found} |",
        f"| lost / duplicated / reordered conversations / split threads | {c.lost} / "
        f"{c.duplicated} / {c.reordered_contacts} / {c.split_contacts} |",
        f"| posts made (`chat.postMessage` accepted) | {drain.posts} |",
        f"| lower bound (a thread parent + one post per contact) | {drain.lower_bound} |",
        f"| 429s from the emulator | {drain.ratelimited} |",
        f"| post rate while backlogged | {drain.backlog_rate:.2f}/s = "
        f"{drain.backlog_rate / rate:.2f}x the budget ({drain.backlog_posts} posts) |",
        f"| peak backlog (texts acked, not yet in Slack) | {drain.peak_backlog} |",
        f"| drain time (first ack to last text in Slack) | {drain.drain_seconds:.1f} s{state} |",
        f"| posts made / budget | {made:.1f} s (drain = {drain.drain_seconds / made:.2f}x) |",
        f"| lower bound / budget | {ideal:.1f} s (drain = {drain.drain_seconds / ideal:.2f}x) |",
        *(
            [f"| what Slack shows for some of them | {'; '.join(c.examples)} |"]
            if c.examples
            else []
        ),
    ]


def verdicts(drain: Drain, rate: float) -> list[str]:
    """Whether each target of G6 holds."""
    ideal = drain.lower_bound / rate

    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    return [
        f"- 0 `429`s: {mark(drain.ratelimited == 0)} ({drain.ratelimited})",
        f"- post rate while backlogged >= 0.9x the budget: "
        f"{mark(drain.backlog_rate >= 0.9 * rate)} ({drain.backlog_rate / rate:.2f}x)",
        f"- drain time <= 1.1x the minimum posts / budget: "
        f"{mark(drain.drained and drain.drain_seconds <= 1.1 * ideal)} "
        f"({drain.drain_seconds / ideal:.2f}x)",
    ]


def report(
    args: argparse.Namespace,
    plan: Plan,
    fired: Fired,
    drain: Drain,
    *,
    rate: float,
    slack_burst: int,
) -> str:
    last = max(at for at, _c, _n in plan.texts)
    lines = [
        "## Burst into one channel (G6)",
        "",
        f"Goal: {len(plan.texts):,} inbound texts from {plan.contacts:,} contacts in "
        f"{plan.window / 60:g} minutes into one channel whose Slack enforces the budget: "
        "0 `429`s, post rate while backlogged >= 0.9x the budget, drain time <= 1.1x the "
        "minimum number of posts / budget.",
        "",
        *environment_lines("burst.py"),
        f"- time-compressed {plan.factor:g}x: `SLACK_POST_RATE={rate:g}` "
        f"`SLACK_POST_BURST={args.burst}`, the Slack emulator enforcing {rate:g}/s per channel "
        f"with a burst of {slack_burst} (Retry-After in fractions of a second); the "
        f"{plan.window:g} s window became {last:.0f} s",
        f"- arrivals: each contact's {plan.per_contact} texts within one ~{plan.exchange:g} s "
        "exchange (first at its start, the rest at uniformly random moments of it), the "
        f"contacts' starts uniformly random over the window (seed {args.seed}); webhooks sent "
        f"open loop at their times ({fired.retried} retried, {len(fired.failed)} failed, "
        f"{len(fired.refused)} refused)",
        "- one `smsbridge serve`, SQLite (WAL), `AUTORESPOND=off` (new senders are not "
        "answered, so every post is the burst's); texts found in posts by their unique bodies",
        "",
        *drain_rows(drain, rate),
        "",
        *verdicts(drain, rate),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
