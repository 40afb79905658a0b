"""Delivery status in words: error codes explained, states combined, segments counted."""

from __future__ import annotations

import pytest

from bridge.segments import Segments, count_segments, total_segments
from bridge.status_display import overall
from bridge.twilio_errors import describe_error, explained

COMMON = (21211, 21408, 21610, 21612, 21614, 30003, 30004, 30005, 30006, 30007, 30008, 30034)


@pytest.mark.parametrize("code", COMMON)
def test_each_common_error_is_explained_in_words_with_its_code(code: int) -> None:
    text = describe_error(code)
    assert explained(code)
    assert f"Twilio error {code}" in text
    assert f"https://www.twilio.com/docs/api/errors/{code}" in text
    assert "Twilio refused it" not in text
    # What went wrong, then what to do: at least two sentences before the code.
    assert text.split(" (Twilio error")[0].count(".") >= 1


def test_what_each_common_error_says() -> None:
    assert "not a valid phone number" in describe_error(21211)
    assert "geographic permissions" in describe_error(21408)
    assert "replied STOP" in describe_error(21610)
    assert "landline" in describe_error(21614)
    assert "unreachable" in describe_error(30003)
    assert "blocked" in describe_error(30004)
    assert "no longer in service" in describe_error(30005)
    assert "spam" in describe_error(30007)
    assert "A2P 10DLC" in describe_error(30034)


def test_an_unknown_or_missing_code_still_reads() -> None:
    assert describe_error(None) == "Twilio did not say why."
    assert describe_error(12345).startswith("Twilio refused it. (Twilio error 12345")


@pytest.mark.parametrize(
    ("parts", "state"),
    [
        (["queued"], "queued"),
        (["accepted"], "queued"),
        (["sending", "sent"], "queued"),
        (["delivered", "sent"], "sent"),
        (["delivered", "delivered"], "delivered"),
        (["read", "delivered"], "delivered"),
        (["delivered", "undelivered"], "undelivered"),
        (["undelivered", "failed"], "failed"),
        (["pending", "delivered"], "on_its_way"),
        (["canceled"], "failed"),
        (["something-new"], None),
    ],
)
def test_a_reply_in_several_parts_shows_its_least_advanced_part_or_a_failure(
    parts: list[str], state: str | None
) -> None:
    assert overall(parts) == state


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("", Segments(1, "GSM-7")),
        ("a" * 160, Segments(1, "GSM-7")),
        ("a" * 161, Segments(2, "GSM-7")),
        ("a" * 306, Segments(2, "GSM-7")),
        ("a" * 307, Segments(3, "GSM-7")),
        ("€" * 80, Segments(1, "GSM-7")),  # extension characters take two septets
        ("€" * 81, Segments(2, "GSM-7")),
        ("Grüße à Ñandù", Segments(1, "GSM-7")),
        ("é" * 69 + "ú", Segments(1, "UCS-2")),  # ú is not in GSM-7 (ù is)
        ("é" * 70 + "ú", Segments(2, "UCS-2")),
        ("a" * 70, Segments(1, "GSM-7")),
        ("a" * 69 + "🎉", Segments(2, "UCS-2")),  # the emoji is two UTF-16 units
        ("a" * 68 + "🎉", Segments(1, "UCS-2")),
        ("a" * 134 + "\u2019", Segments(3, "UCS-2")),  # a curly quote switches the whole text
    ],
)
def test_segments_follow_gsm7_and_ucs2(text: str, segments: Segments) -> None:
    assert count_segments(text) == segments


def test_a_split_reply_costs_the_segments_of_all_its_parts() -> None:
    assert total_segments(["a" * 200, "b" * 10]) == Segments(3, "GSM-7")
    assert total_segments(["a" * 10, "🎉"]) == Segments(2, "UCS-2")
    assert total_segments([]) == Segments(0, "GSM-7")
