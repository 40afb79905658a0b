"""Property-based fuzzing of the parsers that read untrusted text: the Slack markup converter,
the escaping of customer text, the keyword matcher, the CSV import and the quiet-hours and
other settings parsers. Each either answers or refuses with its documented value or error."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from bot.blocks import render
from bridge.cards import ContactCard, CustomerText, ThreadEvent
from bridge.config import ConfigError, load_settings
from bridge.consent import Consent, KeywordAction, KeywordMatcher
from bridge.contact_import import ContactRow, HeaderError, RowProblem, read_rows
from bridge.phones import masked, parse_e164
from bridge.quiet_hours import parse_rules, parse_window
from bridge.sms_text import slack_to_sms, split_sms
from tests.conftest import base_env
from tests.fuzzing import fuzz, tick

MATCHER = KeywordMatcher(("STOP", "END"), ("START",), ("HELP",))
# Text as people and attackers type it, with Slack's control characters over-represented.
hostile = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from("<>&@!|#^*_~:`\n"),
    max_size=120,
)
# Our own markup in a post: dates (shown in each reader's zone). Nothing else may appear.
_OUR_DATES = re.compile(r"<!date\^\d+\^[^|>]*\|[^<>]*>")


def lookup(_id: str) -> str | None:
    return None


@fuzz(120)
@given(text=hostile)
def test_the_markup_converter_answers_any_text_and_split_keeps_every_character(
    text: str,
) -> None:
    tick("parser: slack markup to SMS")
    sms = slack_to_sms(text, user_name=lookup, channel_name=lookup, usergroup_name=lookup)
    assert isinstance(sms, str)
    parts = split_sms(sms, 40)
    assert all(len(part) <= 40 for part in parts)
    assert len(sms) <= 40 or all(part for part in parts)
    assert "".join("".join(parts).split()) == "".join(sms.split())


def shown(text: str) -> str:
    return _OUR_DATES.sub("", text)


def all_text(blocks: object) -> list[str]:
    if isinstance(blocks, dict):
        return [t for v in blocks.values() for t in all_text(v)]
    if isinstance(blocks, list):
        return [t for v in blocks for t in all_text(v)]
    return [blocks] if isinstance(blocks, str) else []


@fuzz(120)
@given(body=hostile, name=hostile, location=hostile)
def test_customer_words_can_never_become_slack_markup(body: str, name: str, location: str) -> None:
    """No `<@U…>` mention, `<!channel>` ping or `<http…>` link from what a customer sent or
    how a contact is named: a `<` in a post is only ever our own date markup."""
    tick("parser: customer text escaped for Slack")
    at = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)
    card = ContactCard(
        display_name=name or "x",
        phone_display="+1 415-555-0100",
        consent=Consent.SUBSCRIBED,
        consent_since=at,
        local_now=at,
        zone="UTC",
        zone_uncertain=False,
        location=location or None,
    )
    for content in (CustomerText(body, at, 0), ThreadEvent(body, at), card):
        text, blocks = render(content)
        for piece in [text, *all_text(blocks)]:
            assert "<" not in shown(piece) and ">" not in shown(piece), piece
            # Every & left is one we wrote as an escape: the text cannot start an entity.
            assert re.fullmatch(r"(?:[^&]|&amp;|&lt;|&gt;)*", shown(piece), re.DOTALL), piece


@fuzz(120)
@given(body=hostile, opt_out_type=st.none() | st.sampled_from(["STOP", "START", "HELP", "x"]))
def test_the_keyword_matcher_reads_whole_messages_only(body: str, opt_out_type: str | None) -> None:
    tick("parser: keyword matcher")
    keyword = MATCHER.match(body, opt_out_type)
    if opt_out_type == "STOP":
        assert keyword is not None and keyword.action is KeywordAction.OPT_OUT
    # Words around a keyword make it a conversation text.
    assert MATCHER.match(f"please STOP {body} now") is None or not body.strip()
    assert MATCHER.match(f"STOP texting {body}") is None or not body.strip()


csv_cells = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(',;\t"\r\n\x00+'),
    max_size=40,
)


@fuzz(100)
@given(
    header=st.sampled_from(
        ["phone,name,consent,timezone", "phone;name", "Phone\tConsent", "name,email", ""]
    ),
    lines=st.lists(csv_cells, max_size=8),
)
def test_a_csv_import_reads_or_refuses_every_line_of_any_file(
    header: str, lines: list[str]
) -> None:
    tick("parser: contact CSV import")
    stream = io.StringIO("\n".join([header, *lines]), newline="")
    try:
        rows = list(read_rows(stream, default_region="US"))
    except HeaderError:
        assert "phone" not in header.lower()
        return
    numbers = [row.line for row in rows]
    assert numbers == sorted(numbers)
    for row in rows:
        assert isinstance(row, ContactRow | RowProblem)
        if isinstance(row, ContactRow):
            assert parse_e164(row.phone) == row.phone


@fuzz(120)
@given(window=st.text(max_size=20), rules=st.text(max_size=40))
def test_quiet_hours_parse_or_are_refused_with_a_value_error(window: str, rules: str) -> None:
    tick("parser: quiet hours")
    try:
        parsed = parse_window(window)
        assert 0 <= parsed.start_minute < 1440 and 0 < parsed.end_minute <= 1440
    except ValueError:
        pass
    try:
        for region, rule in parse_rules(rules).items():
            assert region == region.upper() and (rule is None or rule.end_minute <= 1440)
    except ValueError:
        pass


SETTINGS = ["QUIET_HOURS", "QUIET_HOURS_RULES", "ROUTES", "TWILIO_MPS", "SLACK_POST_BURST"]


@fuzz(100)
@given(name=st.sampled_from(SETTINGS), raw=st.text(max_size=30))
def test_a_malformed_setting_stops_start_up_naming_the_variable(name: str, raw: str) -> None:
    tick("parser: settings")
    said = ""
    try:
        load_settings(base_env(**{name: raw}), env_file=None)
    except ConfigError as refused:
        said = str(refused)
    assert not said or said.startswith(f"{name}: ")


@fuzz(100)
@given(number=st.text(st.sampled_from("+0123456789 -()"), min_size=5, max_size=20))
def test_a_masked_number_shows_at_most_its_last_four_digits(number: str) -> None:
    tick("parser: masked numbers")
    shown_digits = [c for c in masked(number)[2:] if c.isdigit()]
    assert len(shown_digits) <= 4
    assert "*" in masked(number)
