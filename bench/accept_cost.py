"""CPU time of accepting one inbound text (`bridge.inbound.accept`), in process, on SQLite.

The webhook's latency under load is mostly this cost queued behind SQLite's single writer, so
it is measured on its own: 300 texts from new senders after 50 unmeasured, with the
autoresponder off and on (it queues one job per text that might need an answer).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from bench.results import write_section  # noqa: E402
from bridge.config import load_settings  # noqa: E402
from bridge.ids import MessageSid  # noqa: E402
from bridge.inbound import InboundText, accept  # noqa: E402
from store.engine import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from tests.conftest import BUSINESS, base_env  # noqa: E402


def per_accept_ms(autorespond: str, texts: int) -> float:
    settings = load_settings(base_env(AUTORESPOND=autorespond), env_file=None)
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/accept.db")
        upgrade(engine)

        def run(first: int, count: int) -> None:
            for n in range(first, first + count):
                text = InboundText(
                    MessageSid(f"SM{n:032x}"), f"+1415{2000000 + n:07d}", BUSINESS, "hi"
                )
                with Session(engine) as session:
                    accept(session, settings=settings, text=text, at=datetime.now(UTC))

        run(0, 50)
        started = time.process_time()
        run(1000, texts)
        cost = (time.process_time() - started) / texts * 1000
        engine.dispose()
    return cost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=300)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    rows = [(mode, per_accept_ms(mode, args.texts)) for mode in ("off", "non-consented")]
    lines = [
        "## CPU per accepted text (`bridge.inbound.accept`)",
        "",
        f"- measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"Python {platform.python_version()}; SQLite (WAL), {args.texts} new senders each",
        "- command: `python bench/accept_cost.py --out bench/RESULTS.md` (also `make bench`)",
        "",
        "| AUTORESPOND | CPU ms per text |",
        "|---|---|",
        *(f"| {mode} | {ms:.2f} |" for mode, ms in rows),
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_section(args.out, "accept_cost", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
