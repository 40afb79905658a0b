"""Keywords: whole message, case and punctuation insensitive; Twilio's OptOutType wins."""

from __future__ import annotations

import pytest

from bridge.config import DEFAULT_HELP, DEFAULT_OPT_IN, DEFAULT_OPT_OUT
from bridge.consent import Consent, KeywordAction, KeywordMatcher

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
