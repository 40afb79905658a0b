"""Reading `/sms` requests: what to find, which period; and the inbox's numbers for a period."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from datetime import timedelta

from bridge.phones import parse_e164
from store.inbox import Stats

MAX_STATS_DAYS = 365
NAME_MIN_LENGTH = 2


@dataclass(frozen=True)
class FindQuery:
    """A contact to look for: by number (E.164) or by part of the name."""

    phone: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class Refusal:
    """A request we cannot read, and what to tell the person."""

    reason: str


def parse_find(raw: str, *, region: str) -> FindQuery | Refusal:
    """Digits mean a number, which must parse; anything else is part of a name."""
    text = raw.strip()
    if not text:
        return Refusal("Tell me whom to find: `/sms find +14155550100` or `/sms find Ann`.")
    if any(ch.isdigit() for ch in text):
        number = parse_e164(text, region)
        if number is None:
            return Refusal(
                f"“{text[:40]}” is not a phone number I can read. Give the whole number, "
                "e.g. `+1 415 555 0100` (or `415 555 0100` in your home country), or part "
                "of a name."
            )
        return FindQuery(phone=number)
    if len(text) < NAME_MIN_LENGTH:
        return Refusal("Give at least two letters of the name.")
    return FindQuery(name=text[:100])


def parse_period(raw: str) -> timedelta | Refusal:
    """`7d` (the default when empty), `30d`, `24h`."""
    text = raw.strip().lower() or "7d"
    match = re.fullmatch(r"(\d{1,4})\s*([dh])", text)
    if match is None:
        return Refusal(f"“{raw.strip()[:20]}” is not a period: use e.g. `7d`, `30d` or `24h`.")
    amount = int(match[1])
    period = timedelta(days=amount) if match[2] == "d" else timedelta(hours=amount)
    if not timedelta(hours=1) <= period <= timedelta(days=MAX_STATS_DAYS):
        return Refusal(f"Pick a period between 1h and {MAX_STATS_DAYS}d.")
    return period


@dataclass(frozen=True)
class StatsSummary:
    """Conversations started in a period, their median first response, who is overdue now."""

    conversations: int
    answered: int
    median_first_response: timedelta | None
    overdue: int


def summarize(stats: Stats) -> StatsSummary:
    """The summary of raw figures."""
    median = statistics.median(stats.response_seconds) if stats.response_seconds else None
    return StatsSummary(
        conversations=stats.conversations,
        answered=len(stats.response_seconds),
        median_first_response=timedelta(seconds=median) if median is not None else None,
        overdue=stats.overdue,
    )
