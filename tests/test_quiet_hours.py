"""Quiet hours: windows, regional rules, several zones, and both daylight-saving transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.config import ConfigError, load_settings
from bridge.quiet_hours import (
    QuietPolicy,
    Window,
    check,
    is_allowed,
    next_allowed,
    parse_rules,
    parse_window,
    region_key,
    wait_words,
)
from tests.conftest import base_env

NY, LA = "America/New_York", "America/Los_Angeles"
DAY = Window(8 * 60, 21 * 60)


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A wall-clock time in `zone`, as an aware datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("08:00-21:00", (480, 1260)), ("22:00-06:00", (1320, 360)), ("00:00-24:00", (0, 1440))],
)
def test_windows_parse(raw: str, expected: tuple[int, int]) -> None:
    window = parse_window(raw)
    assert (window.start_minute, window.end_minute) == expected


@pytest.mark.parametrize(
    "raw", ["25:00-08:00", "8-21", "", "08:00", "08:00-08:00", "24:00-08:00", "08:60-21:00"]
)
def test_malformed_windows_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"HH:MM|empty|24:00"):
        parse_window(raw)


@pytest.mark.parametrize("raw", ["25:00-08:00", "8-21", " "])
def test_malformed_quiet_hours_stop_start_up_naming_the_variable(raw: str) -> None:
    with pytest.raises(ConfigError, match=r"^QUIET_HOURS: "):
        load_settings(base_env(QUIET_HOURS=raw), env_file=None)


def test_every_boundary_of_the_window() -> None:
    assert not DAY.allows(7 * 60 + 59)
    assert DAY.allows(8 * 60)
    assert DAY.allows(20 * 60 + 59)
    assert not DAY.allows(21 * 60)


def test_a_window_that_wraps_midnight_allows_the_night() -> None:
    night = parse_window("22:00-06:00")
    assert night.allows(23 * 60) and night.allows(0) and night.allows(5 * 60 + 59)
    assert not night.allows(6 * 60) and not night.allows(12 * 60) and night.allows(22 * 60)


@given(st.text(max_size=20))
def test_any_text_parses_or_is_refused_with_a_value_error(raw: str) -> None:
    try:
        window = parse_window(raw)
    except ValueError:
        return
    assert 0 <= window.start_minute < 1440 and 0 < window.end_minute <= 1440


def test_held_until_the_next_allowed_minute_in_their_zone() -> None:
    # 8:02 a.m. in New York is 5:02 a.m. in Los Angeles: held until 8:00 there.
    result = check(QuietPolicy(DAY), zones=[LA], region=None, now=at(NY, 2026, 3, 12, 8, 2))
    assert not result.allowed
    assert result.local_due == at(LA, 2026, 3, 12, 8, 0)
    assert wait_words(result.due - at(NY, 2026, 3, 12, 8, 2)) == "2 h 58 min"  # type: ignore[operator]


def test_after_the_end_it_waits_for_the_next_morning() -> None:
    result = check(QuietPolicy(DAY), zones=[NY], region=None, now=at(NY, 2026, 3, 12, 21, 0))
    assert result.local_due == at(NY, 2026, 3, 13, 8, 0)


def test_seconds_round_up_to_the_next_whole_minute() -> None:
    due = next_allowed([DAY], [NY], at(NY, 2026, 3, 12, 7, 59) + timedelta(seconds=30))
    assert due == at(NY, 2026, 3, 12, 8, 0)


def test_several_zones_must_all_allow_it() -> None:
    # 9 a.m. in New York is 6 a.m. in Los Angeles: allowed in one zone is not enough.
    nine = at(NY, 2026, 3, 12, 9, 0)
    assert is_allowed([DAY], [NY], nine)
    assert not is_allowed([DAY], [NY, LA], nine)
    assert next_allowed([DAY], [NY, LA], nine) == at(LA, 2026, 3, 12, 8, 0)
    # ...and the evening ends with New York's 9 p.m.
    assert not is_allowed([DAY], [NY, LA], at(NY, 2026, 3, 12, 21, 0))


def test_spring_forward_counts_the_short_night() -> None:
    # 8 March 2026: New York skips from 2:00 to 3:00 a.m.; 1:30 a.m. to 8:00 a.m. is 5 h 30.
    before = at(NY, 2026, 3, 8, 1, 30)
    due = next_allowed([DAY], [NY], before)
    assert due == at(NY, 2026, 3, 8, 8, 0)
    assert due - before == timedelta(hours=5, minutes=30)


def test_a_window_opening_inside_the_skipped_hour_opens_at_the_jump() -> None:
    due = next_allowed([parse_window("02:30-21:00")], [NY], at(NY, 2026, 3, 8, 1, 0))
    assert due == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 3:00 a.m. EDT


def test_fall_back_counts_the_long_night() -> None:
    # 1 November 2026: 1:00-2:00 a.m. happens twice in New York; 10 p.m. to 8 a.m. is 11 h.
    before = at(NY, 2026, 10, 31, 22, 0)
    due = next_allowed([DAY], [NY], before)
    assert due == at(NY, 2026, 11, 1, 8, 0)
    assert due - before == timedelta(hours=11)
    assert not is_allowed([DAY], [NY], datetime(2026, 11, 1, 6, 30, tzinfo=UTC))  # 1:30 EST


def test_state_rules_end_the_day_earlier() -> None:
    policy = QuietPolicy(DAY)
    half_past_eight = at(NY, 2026, 3, 12, 20, 30)
    assert check(policy, zones=[NY], region="US-NY", now=half_past_eight).allowed
    florida = check(policy, zones=[NY], region="US-FL", now=half_past_eight)
    assert not florida.allowed and florida.local_due == at(NY, 2026, 3, 13, 8, 0)
    connecticut = check(policy, zones=[NY], region="US-CT", now=at(NY, 2026, 3, 12, 8, 30))
    assert connecticut.local_due == at(NY, 2026, 3, 12, 9, 0)


def test_quiet_hours_rules_override_and_drop_built_in_rules() -> None:
    rules = parse_rules("us-fl=off, GB=09:00-20:00, US-TX=09:00-21:00")
    policy = QuietPolicy(DAY, rules)
    assert policy.windows_for("US-FL") == (DAY,)
    assert policy.windows_for("GB") == (DAY, Window(540, 1200))
    assert policy.windows_for("US-TX") == (DAY, Window(540, 1260))
    with pytest.raises(ValueError, match="REGION="):
        parse_rules("Florida=08:00-20:00")
    with pytest.raises(ConfigError, match=r"^QUIET_HOURS_RULES: "):
        load_settings(base_env(QUIET_HOURS_RULES="US-FL=8-20"), env_file=None)


def test_the_region_comes_from_twilio_or_from_the_number() -> None:
    assert region_key(country="US", state="FL", place=None) == "US-FL"
    assert region_key(country="US", state=None, place="Miami, FL") == "US-FL"
    assert region_key(country="US", state=None, place="Washington State") == "US-WA"
    assert region_key(country="US", state=None, place="") == "US"
    assert region_key(country=None, state="FL", place=None) is None
