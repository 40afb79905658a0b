"""Quiet hours: when, in the customer's local time, a reply may go out, and when it may next.

A contact is allowed a text at an instant only when the instant is inside `QUIET_HOURS` and
inside the stricter window of their state or country, in every zone they may be in (a number
that maps to several zones must be in allowed hours in all of them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

_DAY = 24 * 60
_CLOCK = re.compile(r"([01]\d|2[0-4]):([0-5]\d)")


@dataclass(frozen=True)
class Window:
    """A daily window of allowed minutes, `start` inclusive, `end` exclusive; may wrap midnight.

    `22:00-06:00` allows the night; `00:00-24:00` allows the whole day.
    """

    start_minute: int
    end_minute: int

    def allows(self, minute: int) -> bool:
        """Whether the minute of the day (0..1439) is inside the window."""
        if self.start_minute < self.end_minute:
            return self.start_minute <= minute < self.end_minute
        return minute >= self.start_minute or minute < self.end_minute

    def __str__(self) -> str:
        return f"{_hhmm(self.start_minute)}-{_hhmm(self.end_minute)}"


DEFAULT_QUIET_HOURS = Window(8 * 60, 21 * 60)


def parse_window(raw: str) -> Window:
    """`HH:MM-HH:MM` (24-hour clock, `24:00` only as an end); ValueError says what is wrong."""
    start, sep, end = raw.strip().partition("-")
    if not sep:
        raise ValueError("expected HH:MM-HH:MM such as 08:00-21:00")
    window = Window(_minute(start, end=False), _minute(end, end=True))
    if window.start_minute == window.end_minute:
        raise ValueError("the window is empty: start and end are the same time")
    return window


def _minute(raw: str, *, end: bool) -> int:
    match = _CLOCK.fullmatch(raw.strip())
    if not match:
        raise ValueError("expected HH:MM-HH:MM such as 08:00-21:00")
    hours, minutes = int(match[1]), int(match[2])
    if hours == 24 and (minutes or not end):
        raise ValueError("24:00 is only valid as the end of a window")
    return hours * 60 + minutes


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


# Stricter windows the law sets for telephone solicitation by call or text, by the recipient's
# state (ISO 3166-2). Federal law (47 CFR 64.1200(c)(1)) allows 8 a.m. to 9 p.m., which the
# default QUIET_HOURS already keeps. Sources, each the statute's own text:
# - US-FL: Fla. Stat. 501.059(8)(a) (Florida Telephone Solicitation Act, SB 1120, 2021):
#   no solicitation before 8 a.m. or after 8 p.m.
# - US-OK: Okla. Stat. tit. 15, 775C.4 (Telephone Solicitation Act of 2022): 8 a.m. to 8 p.m.
# - US-MD: Md. Code, Com. Law 14-4503 (Stop the Spam Calls Act of 2023): 8 a.m. to 8 p.m.
# - US-WA: RCW 80.36.390(2): no solicitation before 8 a.m. or after 8 p.m.
# - US-CT: Conn. Gen. Stat. 42-288a(c), as amended by Public Act 23-98: 9 a.m. to 8 p.m.
# - US-MS: Miss. Code Ann. 77-3-725: 8 a.m. to 8 p.m.
# Day-of-week and holiday bans (e.g. no Sunday solicitation in Alabama, Louisiana and
# Mississippi) are not modelled: QUIET_HOURS_RULES cannot express them either.
BUILT_IN_RULES: Mapping[str, Window] = {
    "US-FL": Window(8 * 60, 20 * 60),
    "US-OK": Window(8 * 60, 20 * 60),
    "US-MD": Window(8 * 60, 20 * 60),
    "US-WA": Window(8 * 60, 20 * 60),
    "US-CT": Window(9 * 60, 20 * 60),
    "US-MS": Window(8 * 60, 20 * 60),
}

# Places may also come as state names (as phonenumbers' geocoder gives them).
_STATE_NAMES = {
    "Florida": "FL",
    "Oklahoma": "OK",
    "Maryland": "MD",
    "Washington State": "WA",
    "Washington": "WA",
    "Connecticut": "CT",
    "Mississippi": "MS",
}
_REGION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


def parse_rules(raw: str) -> dict[str, Window | None]:
    """`US-FL=08:00-20:00,GB=09:00-20:00,US-WA=off`: windows by region; `off` drops a rule."""
    rules: dict[str, Window | None] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        region, sep, value = (piece.strip() for piece in item.partition("="))
        if not sep or not _REGION.fullmatch(region.upper()):
            raise ValueError("expected REGION=HH:MM-HH:MM entries such as US-FL=08:00-20:00")
        rules[region.upper()] = None if value.lower() == "off" else parse_window(value)
    return rules


def region_key(*, country: str | None, state: str | None, place: str | None) -> str | None:
    """`US-FL` from Twilio's FromCountry/FromState, else from the number's geocoded place."""
    if not country:
        return None
    country = country.upper()
    code = (state or "").strip().upper()
    if not code and place:
        # "Miami, FL" or "Florida"
        tail = place.rsplit(", ", 1)[-1]
        code = tail if re.fullmatch(r"[A-Z]{2}", tail) else _STATE_NAMES.get(place, "")
    return f"{country}-{code}" if code else country


@dataclass(frozen=True)
class QuietPolicy:
    """QUIET_HOURS and the regional rules (built in, with QUIET_HOURS_RULES over them)."""

    base: Window = DEFAULT_QUIET_HOURS
    overrides: Mapping[str, Window | None] = field(default_factory=dict)

    def windows_for(self, region: str | None) -> tuple[Window, ...]:
        """Every window that applies in `region`: the base, its country's and its state's."""
        rules = {**BUILT_IN_RULES, **self.overrides}
        found = [self.base]
        if region:
            for key in dict.fromkeys((region.split("-")[0], region)):
                rule = rules.get(key)
                if rule is not None:
                    found.append(rule)
        return tuple(found)


@dataclass(frozen=True)
class QuietCheck:
    """Whether a text may go to a contact now and, if not, the next instant it may."""

    allowed: bool
    local_now: datetime
    zone: str
    due: datetime | None = None

    @property
    def local_due(self) -> datetime | None:
        """The due time on the contact's own clock."""
        return self.due.astimezone(ZoneInfo(self.zone)) if self.due else None


def is_allowed(windows: Sequence[Window], zones: Sequence[str], at: datetime) -> bool:
    """Whether `at` falls inside every window in every zone."""
    for zone in zones:
        local = at.astimezone(ZoneInfo(zone))
        minute = local.hour * 60 + local.minute
        if not all(window.allows(minute) for window in windows):
            return False
    return True


def next_allowed(windows: Sequence[Window], zones: Sequence[str], after: datetime) -> datetime:
    """The first whole minute at or after `after` that is allowed everywhere.

    The allowed instants are an intersection of daily intervals, so the first one is `after`
    itself or the opening of some window in some zone: only those are tried, in order.
    """
    start = after.astimezone(UTC).replace(second=0, microsecond=0)
    if start < after:
        start += timedelta(minutes=1)
    candidates = {start}
    for zone in zones:
        tz = ZoneInfo(zone)
        first_day = start.astimezone(tz).date() - timedelta(days=1)
        for offset in range(9):
            day = first_day + timedelta(days=offset)
            for window in windows:
                opening = time(window.start_minute // 60, window.start_minute % 60)
                instant = _opening_instant(datetime.combine(day, opening, tzinfo=tz))
                if instant >= start:
                    candidates.add(instant)
    for candidate in sorted(candidates):
        if is_allowed(windows, zones, candidate):
            return candidate
    raise ValueError("no allowed minute within a week: the windows never overlap")


def _opening_instant(local: datetime) -> datetime:
    """When a local wall-clock time first happens; one that a spring-forward skips opens
    at the jump (the first minute whose wall-clock time is past it)."""
    instant = local.astimezone(UTC)
    if instant.astimezone(local.tzinfo).replace(tzinfo=None) == local.replace(tzinfo=None):
        return instant
    earliest = local.replace(fold=1).astimezone(UTC)  # the offset after the jump: too early
    while earliest.astimezone(local.tzinfo).replace(tzinfo=None) < local.replace(tzinfo=None):
        earliest += timedelta(minutes=1)
    return earliest


def check(
    policy: QuietPolicy, *, zones: Sequence[str], region: str | None, now: datetime
) -> QuietCheck:
    """May a text go now to a contact in `zones` (the first is theirs as shown)?"""
    windows = policy.windows_for(region)
    local = now.astimezone(ZoneInfo(zones[0]))
    if is_allowed(windows, zones, now):
        return QuietCheck(True, local, zones[0])
    return QuietCheck(False, local, zones[0], next_allowed(windows, zones, now))


def wait_words(delta: timedelta) -> str:
    """`2 h 58 min`, `45 min`, `1 min`: how long until a held reply goes."""
    minutes = max(1, round(delta.total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def clock_words(local: datetime) -> str:
    """`5:02 AM`."""
    return local.strftime("%I:%M %p").lstrip("0")
