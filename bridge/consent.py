"""Consent states and the keywords that change them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Consent(StrEnum):
    """A contact's SMS consent; a first text never grants it."""

    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    NEVER_SUBSCRIBED = "never_subscribed"


class KeywordAction(StrEnum):
    """What a keyword text asks for."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


@dataclass(frozen=True)
class Keyword:
    """A recognised keyword text: the word as the customer typed it and what it means."""

    word: str
    action: KeywordAction

    @property
    def consent(self) -> Consent | None:
        """The consent this keyword sets, if any."""
        return {
            KeywordAction.OPT_OUT: Consent.UNSUBSCRIBED,
            KeywordAction.OPT_IN: Consent.SUBSCRIBED,
        }.get(self.action)


# Twilio's Advanced Opt-Out tells us what it matched in `OptOutType`.
_TWILIO_OPT_OUT_TYPES = {
    "STOP": KeywordAction.OPT_OUT,
    "START": KeywordAction.OPT_IN,
    "HELP": KeywordAction.HELP,
}


@dataclass(frozen=True)
class KeywordMatcher:
    """Matches a whole message against the configured keyword lists."""

    opt_out: tuple[str, ...]
    opt_in: tuple[str, ...]
    help: tuple[str, ...]

    def match(self, body: str, opt_out_type: str | None = None) -> Keyword | None:
        """The keyword this text is, or None for a conversation text."""
        word = normalise(body)
        if opt_out_type:
            action = _TWILIO_OPT_OUT_TYPES.get(opt_out_type.strip().upper())
            if action is not None:
                return Keyword(word or opt_out_type.strip().upper(), action)
        for action, words in (
            (KeywordAction.OPT_OUT, self.opt_out),
            (KeywordAction.OPT_IN, self.opt_in),
            (KeywordAction.HELP, self.help),
        ):
            if word and word in words:
                return Keyword(word, action)
        return None


def normalise(body: str) -> str:
    """The message upper-cased, without surrounding whitespace and punctuation."""
    start, end = 0, len(body)
    while start < end and _is_padding(body[start]):
        start += 1
    while end > start and _is_padding(body[end - 1]):
        end -= 1
    return body[start:end].upper()


def _is_padding(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith(("P", "Z", "C"))
