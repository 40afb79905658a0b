"""`smsbridge contacts import FILE` and `smsbridge contacts export`."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bridge.config import Settings
from bridge.contact_import import (
    ContactRow,
    HeaderError,
    ImportReport,
    RowProblem,
    read_rows,
    write_rows,
)
from store import migrate
from store.contact_bulk import all_contacts, apply_rows
from store.engine import make_engine


def import_contacts(settings: Settings, path: Path) -> int:
    """Import a CSV: bad lines are reported on stderr and skipped, good ones kept.

    Exit status 0 when the file was read (even with refused lines, which the report lists),
    1 when it could not be read at all.
    """
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    report = ImportReport()
    started = time.monotonic()

    try:
        with path.open(encoding="utf-8-sig", newline="", errors="replace") as stream:
            rows = read_rows(stream, default_region=settings.default_region)
            apply_rows(
                engine,
                _keep_good(rows, report),
                at=datetime.now(UTC),
                cause=f"import of {path.name}",
                outcome=report,
            )
    except HeaderError as exc:
        print(f"smsbridge: {path}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"smsbridge: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    for problem in sorted(report.problems, key=lambda p: p.line):
        print(f"{path.name}: {problem}", file=sys.stderr)
    print(f"{report.summary()} in {time.monotonic() - started:.1f} s")
    return 0


def _keep_good(
    rows: Iterator[ContactRow | RowProblem], report: ImportReport
) -> Iterator[ContactRow]:
    """The good rows; the refused ones go into the report."""
    for row in rows:
        if isinstance(row, RowProblem):
            report.problems.append(row)
        else:
            yield row


def export_contacts(settings: Settings) -> int:
    """Every contact as CSV on standard output, in the import's format."""
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    try:
        write_rows(sys.stdout, all_contacts(engine))
    finally:
        engine.dispose()
    return 0
