"""Time to build the App Home view (query, rows, Block Kit, JSON) with 100,000 conversations.

The Home tab is rebuilt for every open tab after each change, so it must not grow with the
store. Measured in process on SQLite: the same build on a store of 100,000 conversations and,
as the reference in the same run, on one of 10 (what the view shows: INBOX_SIZE).
Slack is not called: every thread's link is already cached, as it is after the first publish.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, insert, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.results import write_section  # noqa: E402
from bot.home_blocks import home_view  # noqa: E402
from bridge.config import Settings, load_settings  # noqa: E402
from bridge.inbox_view import item_of  # noqa: E402
from store import inbox  # noqa: E402
from store.engine import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Contact, Conversation, InboxEntry, Message  # noqa: E402
from tests.conftest import BUSINESS, CHANNEL, base_env  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
_BATCH = 5000


def fill(engine: Engine, conversations: int) -> None:
    """Contacts, their conversation, one text each and its inbox entry, in batches."""
    with Session(engine) as session:
        for first in range(1, conversations + 1, _BATCH):
            ids = range(first, min(first + _BATCH, conversations + 1))
            session.execute(insert(Contact), [_contact(n) for n in ids])
            session.execute(insert(Conversation), [_conversation(n) for n in ids])
            session.execute(insert(Message), [_message(n) for n in ids])
            session.execute(insert(InboxEntry), [_entry(n) for n in ids])
        session.commit()


def _at(n: int) -> datetime:
    # Not in id order: the newest texts are spread through the table.
    return T0 + timedelta(seconds=(n * 7919) % 10_000_019)


def _contact(n: int) -> dict[str, object]:
    name = f"Customer {n}" if n % 3 else None
    return {
        "id": n,
        "phone": f"+1415{n:07d}",
        "name": name,
        "created_at": T0,
        "consent": "subscribed",
    }


def _conversation(n: int) -> dict[str, object]:
    return {
        "id": n,
        "contact_id": n,
        "business_number": BUSINESS,
        "channel": CHANNEL,
        "parent_ts": f"1700000000.{n:06d}",
        "status": "open",
        "created_at": _at(n),
        "last_message_at": _at(n),
    }


def _message(n: int) -> dict[str, object]:
    return {
        "id": n,
        "contact_id": n,
        "conversation_id": n,
        "direction": "inbound",
        "kind": "text",
        "body": f"Hello, this is text number {n} about my order <#{n}> & more",
        "twilio_sid": f"SM{n:032x}",
        "from_number": f"+1415{n:07d}",
        "to_number": BUSINESS,
        "status": "posted",
        "created_at": _at(n),
        "updated_at": _at(n),
    }


def _entry(n: int) -> dict[str, object]:
    return {
        "conversation_id": n,
        "contact_id": n,
        "last_text_id": n,
        "last_text_at": _at(n),
        "unread": n % 2 == 0,
        "waiting_since": _at(n) if n % 2 == 0 else None,
        "claimed_by": "U0AGENT" if n % 5 == 0 else None,
        "superseded": False,
        "first_text_at": _at(n),
        "permalink": f"https://example.slack.com/archives/{CHANNEL}/p1700000000{n:06d}",
        "updated_at": _at(n),
    }


def build_once(engine: Engine, settings: Settings, now: datetime) -> float:
    """Wall milliseconds of one build of the Home view."""
    started = time.perf_counter()
    with Session(engine) as session:
        rows = inbox.recent(session, limit=settings.inbox_size)
        items = [item_of(row, settings=settings, now=now) for row in rows]
    view = json.dumps(home_view(items, now=now, read_only=None))
    assert len(items) == 10 and view
    return (time.perf_counter() - started) * 1000


def plan(engine: Engine) -> str:
    """SQLite's plan for the Home query, to show it walks the index, not the table."""
    with Session(engine) as session:
        query = inbox.recent_query(limit=10)
        compiled = query.compile(engine, compile_kwargs={"literal_binds": True})
        rows = session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).all()
    return "; ".join(str(row[-1]) for row in rows)


def measure(sizes: list[int], runs: int, rounds: int) -> tuple[dict[int, list[float]], str]:
    """Build times per store size, in alternating rounds so both see the same machine load."""
    settings = load_settings(base_env(), env_file=None)
    now = T0 + timedelta(days=200)
    times: dict[int, list[float]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        engines = {size: make_engine(f"sqlite:///{tmp}/home{size}.db") for size in sizes}
        for size, engine in engines.items():
            upgrade(engine)
            fill(engine, size)
            for _ in range(10):  # warm-up, unmeasured
                build_once(engine, settings, now)
        for round_ in range(rounds):
            order = sizes if round_ % 2 == 0 else list(reversed(sizes))
            for size in order:
                times[size] += [
                    build_once(engines[size], settings, now) for _ in range(runs // rounds)
                ]
        how = plan(engines[sizes[-1]])
        for engine in engines.values():
            engine.dispose()
    return times, how


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    times, how = measure([10, args.conversations], args.runs, rounds=10)
    took = time.perf_counter() - started
    rows = sorted(times.items())
    p50 = statistics.median(times[args.conversations]) / statistics.median(times[10])
    lines = [
        "## Building the App Home view (`bot.home`)",
        "",
        f"- measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"Python {platform.python_version()}; SQLite (WAL), one process, {args.runs} builds "
        "per store after 10 unmeasured, in 10 alternating rounds",
        "- command: `python bench/home_view.py --out bench/RESULTS.md` (also `make bench`)",
        "- a build: the query for the 10 newest conversations, their rows (local time, quiet "
        "hours, overdue), the Block Kit view and its JSON; thread links cached, Slack not called",
        "- reference: the same build on a store of 10 conversations, in the same run; "
        f"the run took {took:.0f} s, most of it filling the large store",
        f"- SQLite's plan for the query: {how}",
        "",
        "| conversations stored | p50 ms | p95 ms | max ms |",
        "|---|---|---|---|",
        *(
            f"| {count:,} | {statistics.median(t):.2f} | "
            f"{statistics.quantiles(t, n=20)[-1]:.2f} | {max(t):.2f} |"
            for count, t in rows
        ),
        "",
        f"Ratio {args.conversations:,} / 10 conversations: p50 {p50:.2f}x.",
    ]
    report = "\n".join(lines)
    print(report)
    if args.out:
        write_section(args.out, "home_view", report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
