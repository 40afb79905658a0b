"""Contacts from and to CSV (`phone,name,consent,timezone`): checked row by row, streamed."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from bridge.consent import Consent
from bridge.localtime import is_zone
from bridge.phones import parse_e164

COLUMNS = ("phone", "name", "consent", "timezone")
_DELIMITERS = ",;\t"
_NAME_LIMIT = 200


class HeaderError(ValueError):
    """The file cannot be read as a contact list at all (no `phone` column, empty file)."""


@dataclass(frozen=True)
class ContactRow:
    """A good row: `None` means the file does not say (the contact keeps what it has)."""

    line: int
    phone: str
    name: str | None
    consent: Consent | None
    timezone: str | None


@dataclass(frozen=True)
class RowProblem:
    """Why a line was not imported (line 1 is the header)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    def refuse(self, line: int, reason: str) -> None:
        """Note a line that was not applied."""
        self.problems.append(RowProblem(line, reason))

    def summary(self) -> str:
        """One line for the operator."""
        return (
            f"{self.created} contacts created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.problems)} lines refused"
        )


def read_rows(stream: TextIO, *, default_region: str) -> Iterator[ContactRow | RowProblem]:
    """Each data line as a checked row or the reason it was refused, in file order.

    The stream should be opened with `encoding="utf-8-sig"` and `newline=""` (a BOM is
    dropped either way). The delimiter may be `,`, `;` or a tab, as spreadsheets write them.
    """
    first = stream.readline().lstrip("\ufeff")
    if not first.strip():
        raise HeaderError("the file is empty: expected the header phone,name,consent,timezone")
    delimiter = max(_DELIMITERS, key=first.count)
    header = [name.strip().lower() for name in next(csv.reader([first], delimiter=delimiter))]
    if "phone" not in header:
        raise HeaderError(
            f"the header has no phone column (found {','.join(header)[:80]!r}); "
            "expected phone,name,consent,timezone"
        )
    unknown = [name for name in header if name not in COLUMNS]
    if unknown:
        yield RowProblem(1, f"ignored unknown columns: {', '.join(unknown)[:80]}")
    index = {name: header.index(name) for name in COLUMNS if name in header}
    seen: dict[str, int] = {}
    reader = csv.reader(stream, delimiter=delimiter)
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RowProblem(reader.line_num + 1, f"unreadable CSV ({exc})")
            continue
        line = reader.line_num + 1  # the header was line 1
        if not any(value.strip() for value in record):
            continue
        yield _check(record, line, index, len(header), seen, default_region)


def _check(
    record: list[str],
    line: int,
    index: dict[str, int],
    width: int,
    seen: dict[str, int],
    default_region: str,
) -> ContactRow | RowProblem:
    if len(record) != width:
        return RowProblem(line, f"expected {width} fields, found {len(record)}")

    def value(column: str) -> str:
        return record[index[column]].strip() if column in index else ""

    raw_phone = value("phone")
    phone = parse_e164(raw_phone, default_region, strict=True)
    if phone is None:
        shown = raw_phone[:4] + "…" if len(raw_phone) > 4 else raw_phone
        return RowProblem(line, f"phone {shown!r} is not a valid phone number")
    if phone in seen:
        return RowProblem(line, f"duplicate of line {seen[phone]} (same number)")
    raw_consent = value("consent").lower()
    consent = None
    if raw_consent:
        try:
            consent = Consent(raw_consent)
        except ValueError:
            return RowProblem(
                line,
                f"consent {raw_consent[:20]!r} must be subscribed, unsubscribed or "
                "never_subscribed",
            )
    timezone = value("timezone") or None
    if timezone is not None and not is_zone(timezone):
        return RowProblem(line, f"timezone {timezone[:40]!r} is not an IANA time zone")
    seen[phone] = line
    name = value("name")[:_NAME_LIMIT] or None
    return ContactRow(line, phone, name, consent, timezone)


def write_rows(stream: TextIO, rows: Iterable[tuple[str, str | None, str, str | None]]) -> int:
    """The contacts as CSV with the import's header; returns how many rows were written."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for phone, name, consent, timezone in rows:
        writer.writerow((phone, name or "", consent, timezone or ""))
        count += 1
    return count
