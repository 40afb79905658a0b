"""`smsbridge audit [--since WHEN] [--contact NUMBER] [--csv]`: the audit log for people."""

from __future__ import annotations

import csv
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import TextIO

from sqlmodel import Session

from bridge.audit import Entry, entries
from bridge.config import Settings
from bridge.erasure import find_to_forget
from store import migrate
from store.engine import make_engine

HEADER = ("when (UTC)", "event", "who", "contact", "detail")
_RELATIVE = re.compile(r"(\d+)([dhm])")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_since(raw: str, now: datetime) -> datetime | None:
    """`2026-03-01`, `2026-03-01T14:00` (UTC unless a zone is given), or `7d`, `12h`, `30m`."""
    relative = _RELATIVE.fullmatch(raw.strip())
    if relative:
        return now - timedelta(**{_UNITS[relative[2]]: int(relative[1])})
    try:
        when = datetime.fromisoformat(raw.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def audit(settings: Settings, *, since: str | None, contact: str | None, as_csv: bool) -> int:
    """Print the audit log; 2 for a malformed --since, 1 for an unknown --contact."""
    start = parse_since(since, datetime.now(UTC)) if since else None
    if since and start is None:
        print(
            f"smsbridge: --since {since!r}: expected a date, a time or 7d/12h/30m", file=sys.stderr
        )
        return 2
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    try:
        with Session(engine) as session:
            contact_id = None
            if contact:
                found = find_to_forget(session, contact, region=settings.default_region)
                if found is None:
                    print(f"smsbridge: no contact with the number {contact}", file=sys.stderr)
                    return 1
                contact_id = found.id
            rows = entries(session, since=start, contact_id=contact_id)
    finally:
        engine.dispose()
    (write_csv if as_csv else write_table)(sys.stdout, rows)
    return 0


def _cells(entry: Entry) -> tuple[str, ...]:
    when = entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return (when, entry.event, entry.who, entry.contact, entry.detail)


def write_csv(stream: TextIO, rows: list[Entry]) -> None:
    """The log as CSV with a header line."""
    writer = csv.writer(stream)
    writer.writerow(HEADER)
    writer.writerows(_cells(row) for row in rows)


def write_table(stream: TextIO, rows: list[Entry]) -> None:
    """The log as an aligned table; the detail column is last and not padded."""
    cells = [HEADER, *(_cells(row) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(HEADER) - 1)]
    for row in cells:
        padded = [value.ljust(width) for value, width in zip(row, widths, strict=False)]
        stream.write("  ".join([*padded, row[-1]]).rstrip() + "\n")
    if not rows:
        stream.write("(nothing recorded)\n")
