"""The burst under faults (issue 9, G7): two processes on PostgreSQL, one killed mid-burst.

The burst of `bench/burst.py` (same arrivals, same time compression, the Slack emulator
enforcing the budget), served by two `smsbridge serve` processes sharing one PostgreSQL
database; requests go round-robin to both, like a load balancer, and one that fails
(connection refused or reset, 5xx) goes again to the other a moment later, as Twilio and Slack
retry. Meanwhile:

- 1 % of the texts' webhooks are delivered twice (the same MessageSid, 0.5 to 3 s later, and
  never before the first delivery: a retry follows what it retries);
- an admin replies twice in the threads of every tenth contact (all contacts were imported
  as subscribed with `smsbridge contacts import` first), as soon as each thread shows up;
  1 % of those events are delivered again with `X-Slack-Retry-Num: 1`;
- halfway through the window one process gets `kill -9` and is started again 3 s later, as a
  supervisor would.

Checked: every text in Slack exactly once, in order, in one thread per contact; every reply at
the Twilio emulator exactly once, in order per contact. Run it as is: without
SMSBRIDGE_TEST_POSTGRES_URL it re-runs itself under `.ci/with-postgres` (a throwaway cluster);
each run creates a fresh database and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.burst import (  # noqa: E402
    Plan,
    analyse,
    burst_arguments,
    drain_rows,
    make_plan,
    text_shots,
    verdicts,
)
from bench.harness import (  # noqa: E402
    CHANNEL,
    SIGNING_SECRET,
    Server,
    Shot,
    bridge_env,
    emulators,
    environment_lines,
    fire,
    free_port,
    phone,
    seen_texts,
    serve_command,
    slack_shot,
    twilio_shot,
)
from bench.results import write_section  # noqa: E402
from tests.emulators import SlackEmulator, TwilioEmulator  # noqa: E402
from tests.harness import Twilio  # noqa: E402
from tests.slack_events import SlackEvents, escape, rich_text_blocks  # noqa: E402

ADMIN = "UADMIN"
DOWN_SECONDS = 3.0


@contextlib.contextmanager
def fresh_database(admin_url: str) -> Iterator[str]:
    """A new database on the cluster, dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


def import_contacts(plan: Plan, env: dict[str, str], tmp: Path) -> str:
    """`smsbridge contacts import` of every contact, subscribed; returns what it reported."""
    csv = tmp / "contacts.csv"
    rows = [f"{phone(c)},Contact {c},subscribed," for c in range(1, plan.contacts + 1)]
    csv.write_text("phone,name,consent,timezone\n" + "\n".join(rows) + "\n")
    bridge = [sys.executable, "-m", "bridge"]
    subprocess.run([*bridge, "db", "upgrade"], env=env, cwd=ROOT, check=True)
    done = subprocess.run(
        [*bridge, "contacts", "import", str(csv)],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return (done.stdout + done.stderr).strip().splitlines()[-1]


@dataclass
class Agents:
    """An admin replying in contacts' threads as they show up, some events sent twice."""

    slack: SlackEmulator
    events: SlackEvents
    contacts: list[int]
    per_contact: int
    retry_share: float
    seed: int
    give_up: float
    retried_events: int = 0
    sent: int = 0
    later: list[asyncio.Task[None]] = field(default_factory=list)
    # The contacts whose thread showed up before the agents gave up (only those get replies).
    replied: list[int] = field(default_factory=list)

    def body(self, contact: int, k: int) -> str:
        return f"r{contact:04d} k{k}"

    async def run(self, send: Callable[[Shot], Awaitable[None]]) -> None:
        rng = random.Random(self.seed)
        waiting = set(self.contacts)
        deadline = time.monotonic() + self.give_up
        tasks = []
        while waiting and time.monotonic() < deadline:
            threads = thread_of(self.slack)
            for contact in sorted(waiting & threads.keys()):
                waiting.discard(contact)
                self.replied.append(contact)
                tasks.append(asyncio.create_task(self.reply(send, contact, threads[contact], rng)))
            await asyncio.sleep(0.5)
        await asyncio.gather(*tasks)

    async def reply(
        self, send: Callable[[Shot], Awaitable[None]], contact: int, thread_ts: str, rng: Any
    ) -> None:
        retries = [rng.random() < self.retry_share for _ in range(self.per_contact)]
        await asyncio.sleep(rng.uniform(0.2, 1.0))
        for k, retry in enumerate(retries, start=1):
            text = self.body(contact, k)
            blocks = rich_text_blocks(text)
            ts = self.slack.add_message(
                CHANNEL, escape(text), user=ADMIN, thread_ts=thread_ts, blocks=blocks
            )
            event = self.events.message_event(
                CHANNEL, ADMIN, text, ts=ts, thread_ts=thread_ts, blocks=blocks
            )
            envelope = self.events.envelope(event)
            await send(slack_shot(self.events, 0, text, envelope, None))
            self.sent += 1
            if retry:
                self.retried_events += 1
                self.later.append(asyncio.create_task(self.redeliver(send, envelope, text)))
            await asyncio.sleep(0.3)

    async def redeliver(
        self, send: Callable[[Shot], Awaitable[None]], envelope: dict[str, Any], text: str
    ) -> None:
        """Slack's retry of an event: the same envelope a second later, X-Slack-Retry-Num 1."""
        await asyncio.sleep(1.0)
        await send(slack_shot(self.events, 0, f"{text} retry", envelope, 1))


def thread_of(slack: SlackEmulator) -> dict[int, str]:
    """Contact → the thread its texts are in, for the threads that exist so far."""
    return {s.contact: s.arrival.thread_ts or "" for s in seen_texts(slack.arrivals())}


def check_replies(twilio_api: TwilioEmulator, agents: Agents) -> tuple[int, int, int, int]:
    """(expected, lost, duplicated, contacts with replies out of order) at the Twilio side."""
    by_phone: dict[str, list[str]] = defaultdict(list)
    for message in twilio_api.sent:
        by_phone[str(message["to"])].append(str(message["body"]))
    lost = duplicated = reordered = 0
    for contact in agents.replied:
        bodies = by_phone.get(phone(contact), [])
        wanted = [agents.body(contact, k) for k in range(1, agents.per_contact + 1)]
        lost += len(set(wanted) - set(bodies))
        duplicated += len(bodies) - len(set(bodies))
        if [b for b in bodies if b in wanted] != [w for w in wanted if w in bodies]:
            reordered += 1
    return len(agents.replied) * agents.per_contact, lost, duplicated, reordered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    burst_arguments(parser)
    parser.add_argument("--duplicates", type=float, default=0.01, help="share of webhooks")
    parser.add_argument("--event-retries", type=float, default=0.01, help="share of events")
    parser.add_argument("--replies", type=int, default=2, help="per replied-to contact")
    args = parser.parse_args()
    admin_url = os.environ.get("SMSBRIDGE_TEST_POSTGRES_URL")
    if not admin_url:
        if os.environ.get("SMSBRIDGE_BENCH_UNDER_PG") == "1":
            print("no PostgreSQL server binaries: G7 needs PostgreSQL", file=sys.stderr)
            return 2
        os.environ["SMSBRIDGE_BENCH_UNDER_PG"] = "1"
        wrapper = str(ROOT / ".ci" / "with-postgres")
        os.execv(wrapper, [wrapper, sys.executable, *sys.argv])  # noqa: S606 - our own script

    plan = make_plan(
        contacts=args.contacts,
        per_contact=args.texts,
        window=args.window,
        exchange=args.exchange,
        factor=args.factor,
        seed=args.seed,
    )
    rate = args.factor
    slack_burst = args.slack_burst or args.burst
    slack, twilio_api = emulators(rate=rate, burst=slack_burst)
    slack.add_user(ADMIN, "ann", is_admin=True)
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp_, fresh_database(admin_url) as database_url:
        tmp = Path(tmp_)
        env = bridge_env(
            slack=slack,
            twilio=twilio_api,
            database_url=database_url,
            # Behind one load balancer: both check signatures against the same public URL.
            public_url=urls[0],
            SLACK_POST_RATE=f"{rate:g}",
            SLACK_POST_BURST=str(args.burst),
            TWILIO_MPS=f"{args.factor:g}",
        )
        imported = import_contacts(plan, env, tmp)
        servers = [
            Server(serve_command(p), env, p, ROOT, tmp / f"serve{i}.log")
            for i, p in enumerate(ports)
        ]
        phone_ = Twilio(base_url=urls[0], public_url=urls[0])
        shots = text_shots(plan, phone_)
        duplicates = [
            twilio_shot(
                phone_,
                at + rng.uniform(0.5, 3.0),
                f"{shot.key} again",
                index + 1,
                shot.key,
                phone(contact),
                # In the sender's chain: a retry of text 2 delayed behind a text 1 that waits out
                # the kill must not overtake text 1 (Twilio retries a delivery it made).
                chain=True,
            )
            for index, (shot, (at, contact, _n)) in enumerate(zip(shots, plan.texts, strict=True))
            if rng.random() < args.duplicates
        ]
        agents = Agents(
            slack=slack,
            events=SlackEvents(base_url=urls[0], signing_secret=SIGNING_SECRET),
            contacts=list(range(10, plan.contacts + 1, 10)),
            per_contact=args.replies,
            retry_share=args.event_retries,
            seed=args.seed,
            give_up=args.give_up * 0.6,
        )
        window = max(at for at, _c, _n in plan.texts)
        killed: list[str] = []

        def supervisor() -> None:
            time.sleep(window / 2)
            victim = servers[1]
            victim.kill()
            killed.append(f"kill -9 at {time.monotonic() - started:.1f} s")
            time.sleep(DOWN_SECONDS)
            victim.start()
            killed.append(f"back at {time.monotonic() - started:.1f} s")

        try:
            for server in servers:
                server.start()
            started = time.monotonic()
            chaos = threading.Thread(target=supervisor, daemon=True)
            chaos.start()
            fired = asyncio.run(
                fire([*shots, *duplicates], lambda: urls, concurrency=200, alongside=agents.run)
            )
            chaos.join()

            def done() -> bool:
                texts = len(thread_of_all(slack))
                return texts >= len(plan.texts) and len(twilio_api.sent) >= agents.sent

            while not done() and time.monotonic() - started < args.give_up:
                time.sleep(1)
            time.sleep(3)  # anything posted or sent twice after the last one shows up too
        finally:
            for server in servers:
                server.stop()
    drain = analyse(plan, fired, slack.arrivals(), ratelimited=slack.ratelimited)
    refused_at = [f"{at - started:.1f} s" for at in slack.ratelimited_at()]
    replies = check_replies(twilio_api, agents)
    slack.stop()
    twilio_api.stop()
    text = report(
        args,
        plan,
        drain,
        rate=rate,
        slack_burst=slack_burst,
        duplicates=len(duplicates),
        agents=agents,
        replies=replies,
        killed=killed,
        refused_at=refused_at,
        imported=imported,
        retried=fired.retried,
        failed=len(fired.failed),
    )
    print(text)
    if args.out:
        write_section(args.out, "burst_faults", text)
    return 0


def thread_of_all(slack: SlackEmulator) -> set[tuple[int, int]]:
    """Every (contact, n) text found in Slack so far."""
    return {(s.contact, s.n) for s in seen_texts(slack.arrivals())}


def report(
    args: argparse.Namespace,
    plan: Plan,
    drain: Any,
    *,
    rate: float,
    slack_burst: int,
    duplicates: int,
    agents: Agents,
    replies: tuple[int, int, int, int],
    killed: list[str],
    refused_at: list[str],
    imported: str,
    retried: int,
    failed: int,
) -> str:
    expected, lost, duplicated, reordered = replies
    c = drain.check
    texts_ok = c.clean() and c.found == c.expected
    replies_ok = not (lost or duplicated or reordered)
    lines = [
        "## Burst under faults: two processes, PostgreSQL, kill -9 (G7)",
        "",
        "Goal: the G6 burst with 1 % duplicate webhooks, 1 % Slack event retries and a `kill -9` "
        "of one of two processes mid-burst: 0 lost, 0 duplicated, 0 reordered texts per "
        "conversation in Slack; agents' replies reach Twilio exactly once and in order per "
        f"contact. **{'Met' if texts_ok and replies_ok else 'Not met'}.**",
        "",
        *environment_lines("burst_faults.py"),
        f"- two `smsbridge serve` on one fresh PostgreSQL database (a throwaway cluster as "
        f"`.ci/with-postgres` makes); contacts imported first: {imported}",
        f"- the G6 arrivals ({len(plan.texts):,} texts, {plan.contacts:,} contacts, "
        f"{plan.window:g} s window compressed {plan.factor:g}x; `SLACK_POST_RATE={rate:g}`, "
        f"`SLACK_POST_BURST={args.burst}`, emulator burst {slack_burst}, "
        f"`TWILIO_MPS={args.factor:g}`), requests round-robin over both processes, a failed "
        f"one sent again to the other ({retried} such retries, {failed} given up)",
        f"- {duplicates} webhooks delivered twice (same MessageSid); an admin replied "
        f"{agents.per_contact}x in the thread of every tenth contact as soon as it showed up "
        f"({len(agents.replied)} of {len(agents.contacts)} showed up in time; {agents.sent} "
        f"events, {agents.retried_events} re-delivered with `X-Slack-Retry-Num: 1`)",
        f"- process 2: {', '.join(killed) or 'not killed (the burst ended first)'}; the "
        f"emulator's 429s came at: {', '.join(refused_at) or 'none'} (same clock)",
        "",
        *drain_rows(drain, rate),
        f"| replies expected at Twilio / lost / duplicated / contacts out of order | "
        f"{expected} / {lost} / {duplicated} / {reordered} |",
        "",
        f"- texts: 0 lost, 0 duplicated, 0 reordered: {'met' if texts_ok else '**not met**'}",
        f"- replies exactly once, in order: {'met' if replies_ok else '**not met**'}",
        *verdicts(drain, rate),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
