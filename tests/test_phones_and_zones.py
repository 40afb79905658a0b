"""Phone numbers and time zones, as the header shows them."""

from __future__ import annotations

from datetime import UTC, datetime

from bridge.localtime import local_time, resolve_zone
from bridge.phones import international, masked, parse_e164


def test_numbers_are_normalised_and_displayed_internationally() -> None:
    assert parse_e164("+1 (415) 555-0100") == "+14155550100"
    assert international("+14155550100") == "+1 415-555-0100"
    assert parse_e164("MyShop") is None
    assert international("MyShop") == "MyShop"
    assert international("22395") == "22395"


def test_masked_numbers_keep_only_the_last_digits() -> None:
    assert masked("+14155550100") == "+1********00"
    assert "5550" not in masked("+14155550100")


def test_zone_order_is_set_then_number_then_default() -> None:
    assert resolve_zone(phone="+14155550100", stored="Europe/Paris", default="UTC").zones == (
        "Europe/Paris",
    )
    implied = resolve_zone(phone="+14155550100", stored=None, default="America/New_York")
    assert implied.zones == ("America/Los_Angeles",) and not implied.uncertain
    fallback = resolve_zone(phone="+15550001111", stored=None, default="America/Chicago")
    assert fallback.zones == ("America/Chicago",) and fallback.source == "default"


def test_a_number_with_several_zones_is_uncertain() -> None:
    australia = resolve_zone(phone="+61412345678", stored=None, default="UTC")
    assert australia.uncertain and len(australia.zones) > 1


def test_local_time_follows_daylight_saving() -> None:
    winter = local_time("America/Los_Angeles", datetime(2026, 1, 15, 16, 0, tzinfo=UTC))
    summer = local_time("America/Los_Angeles", datetime(2026, 7, 15, 16, 0, tzinfo=UTC))
    assert (winter.hour, winter.tzname()) == (8, "PST")
    assert (summer.hour, summer.tzname()) == (9, "PDT")
