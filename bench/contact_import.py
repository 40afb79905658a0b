"""Importing 100,000 contacts with `smsbridge contacts import`, as an operator runs it.

Three runs on one SQLite database: the first import (every contact new), the same file again
(every contact unchanged), and a file that changes every contact's name and consent; then the
export. Each run is a real `python -m bridge` process, so start-up and migrations count too.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.results import write_section  # noqa: E402

CONSENTS = ("subscribed", "unsubscribed", "never_subscribed", "")
ZONES = ("America/Chicago", "Europe/Berlin", "")


def write_csv(path: Path, rows: int, *, variant: int) -> None:
    """`rows` contacts with valid US numbers; `variant` changes names and consent."""
    chooser = random.Random(variant)
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,name,consent,timezone\n")
        for n in range(rows):
            consent = chooser.choice(CONSENTS)
            zone = chooser.choice(ZONES)
            out.write(f"+1415{2000000 + n:07d},Customer {n} v{variant},{consent},{zone}\n")


def run(command: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return time.monotonic() - started, done.stdout.strip().splitlines()[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{work / 'contacts.db'}",
            "LOG_LEVEL": "WARNING",
        }
        first, second = work / "first.csv", work / "second.csv"
        write_csv(first, args.rows, variant=1)
        write_csv(second, args.rows, variant=2)
        base = [sys.executable, "-m", "bridge", "contacts"]
        results = [
            ("first import (all new)", *run([*base, "import", str(first)], env, work)),
            ("same file again (all unchanged)", *run([*base, "import", str(first)], env, work)),
            (
                "every name and most consents changed",
                *run([*base, "import", str(second)], env, work),
            ),
        ]
        started = time.monotonic()
        exported = subprocess.run(
            [*base, "export"], env=env, cwd=work, capture_output=True, text=True, check=True
        )
        export_seconds = time.monotonic() - started
    lines = [
        "## Contact import (`smsbridge contacts import`)",
        "",
        f"- measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "- command: `python bench/contact_import.py --out bench/RESULTS.md` (also `make bench`)",
        f"- {args.rows:,} rows, one SQLite database, each run a fresh `python -m bridge` process "
        "(start-up and migrations included); numbers parsed and validated with `phonenumbers`, "
        "time zones with `zoneinfo`, consent changes written to the ledger",
        "",
        "| run | seconds | what it reported |",
        "|---|---|---|",
        *(f"| {name} | {seconds:.1f} | {summary} |" for name, seconds, summary in results),
        f"| export | {export_seconds:.1f} | {len(exported.stdout.splitlines()) - 1:,} rows |",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_section(args.out, "contact_import", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
