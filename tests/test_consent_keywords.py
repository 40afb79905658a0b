"""Keywords: whole message, case and punctuation insensitive; Twilio's OptOutType wins."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.config import DEFAULT_HELP, DEFAULT_OPT_IN, DEFAULT_OPT_OUT
from bridge.consent import Consent, KeywordAction, KeywordMatcher, normalise

MATCHER = KeywordMatcher(DEFAULT_OPT_OUT, DEFAULT_OPT_IN, DEFAULT_HELP)


@pytest.mark.parametrize("body", ["STOP", "stop", " Stop. ", "STOP!", "\tunsubscribe\n", "¡Quit!"])
def test_opt_out_words(body: str) -> None:
    keyword = MATCHER.match(body)
    assert keyword is not None
    assert keyword.action is KeywordAction.OPT_OUT
    assert keyword.consent is Consent.UNSUBSCRIBED


@pytest.mark.parametrize("body", ["START", "yes", "Unstop!!"])
def test_opt_in_words(body: str) -> None:
    keyword = MATCHER.match(body)
    assert keyword is not None and keyword.consent is Consent.SUBSCRIBED


@pytest.mark.parametrize(
    "body", ["please stop texting me", "stop it now", "yes please", "", "   ", "STOP STOP", "🛑"]
)
def test_conversation_texts_are_not_keywords(body: str) -> None:
    assert MATCHER.match(body) is None


def test_help_sets_no_consent() -> None:
    keyword = MATCHER.match("help?")
    assert keyword is not None and keyword.action is KeywordAction.HELP
    assert keyword.consent is None


def test_twilio_opt_out_type_wins() -> None:
    keyword = MATCHER.match("arret", opt_out_type="STOP")
    assert keyword is not None and keyword.consent is Consent.UNSUBSCRIBED
    assert MATCHER.match("stop", opt_out_type="START") == MATCHER.match("stop", "start")
    started = MATCHER.match("stop", opt_out_type="START")
    assert started is not None and started.consent is Consent.SUBSCRIBED


# Full-width STOP, mathematical bold STOP, zero-width and BOM padding.
LOOK_ALIKES = [
    "\uff33\uff34\uff2f\uff30",
    "STOP\u200b",
    "\u200bstop\u200b",
    "\U0001d412\U0001d413\U0001d40e\U0001d40f",
    "\ufeffStop.",
]


@pytest.mark.parametrize("body", LOOK_ALIKES)
def test_look_alikes_and_invisible_characters_are_still_keywords(body: str) -> None:
    keyword = MATCHER.match(body)
    assert keyword is not None and keyword.action is KeywordAction.OPT_OUT


ALL_WORDS = DEFAULT_OPT_OUT + DEFAULT_OPT_IN + DEFAULT_HELP
PADDING = st.text(
    alphabet=st.sampled_from(" \t\n.,!?¡¿…\u200b\u200c\ufeff\u3000\"'()-"), max_size=4
)


@given(word=st.sampled_from(ALL_WORDS), before=PADDING, after=PADDING, data=st.data())
@settings(max_examples=200, deadline=None)
def test_any_padding_and_casing_of_a_keyword_is_that_keyword(
    word: str, before: str, after: str, data: st.DataObject
) -> None:
    cased = "".join(c.lower() if data.draw(st.booleans()) else c for c in word)
    keyword = MATCHER.match(before + cased + after)
    assert keyword is not None and keyword.word == word


@given(body=st.text(max_size=30))
@settings(max_examples=300, deadline=None)
def test_a_text_is_a_keyword_exactly_when_it_normalises_to_one(body: str) -> None:
    keyword = MATCHER.match(body)
    assert (keyword is not None) == (normalise(body) in ALL_WORDS)
