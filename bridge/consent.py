"""Consent states and the keywords that change them."""

from __future__ import annotations

import re
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
TWILIO_OPT_OUT_TYPES = {
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
            action = TWILIO_OPT_OUT_TYPES.get(opt_out_type.strip().upper())
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


class Source(StrEnum):
    """Where a consent change came from, as the ledger records it."""

    KEYWORD = "keyword"
    TWILIO_OPT_OUT_TYPE = "twilio-opt-out-type"
    TWILIO_ERROR_21610 = "twilio-error-21610"
    IMPORT = "import"
    SLACK = "slack"
    # A forgotten contact's opt-out, carried over to the number's next contact.
    ERASURE = "erasure"


def describe_source(source: str, detail: str | None) -> str:
    """How a change happened, in words: `texted STOP`, `imported`, `marked in Slack`."""
    if source in (Source.KEYWORD, Source.TWILIO_OPT_OUT_TYPE):
        return f"texted {detail}" if detail else "by text"
    if source == Source.TWILIO_ERROR_21610:
        return "Twilio reports the number opted out (error 21610)"
    if source == Source.IMPORT:
        return "imported"
    if source == Source.SLACK:
        return "marked in Slack"
    if source == Source.ERASURE:
        return "opted out before their data was erased"
    return source


# Conversation texts that read like a wish to stop: a person confirms with one click.
_STOP_PHRASES = re.compile(
    r"\b(unsubscribe|opt[ -]?out|remove me|take me off|"
    r"(?:don'?t|do not|no more|never|quit|stop) (?:text|messag|sms|send|contact)\w*)\b",
    re.IGNORECASE,
)


def looks_like_opt_out(body: str) -> bool:
    """A text that may ask to stop, e.g. `please stop texting me` (not a keyword itself)."""
    return bool(_STOP_PHRASES.search(unicodedata.normalize("NFKC", body)))


def normalise(body: str) -> str:
    """The message as a keyword would read: NFKC (full-width and styled letters become plain
    ones), invisible format characters dropped, upper-cased, surrounding whitespace and
    punctuation stripped: full-width STOP, `STOP\u200b` and ` Stop! ` all read `STOP`."""
    body = unicodedata.normalize("NFKC", body)
    body = "".join(c for c in body if unicodedata.category(c) != "Cf")
    start, end = 0, len(body)
    while start < end and _is_padding(body[start]):
        start += 1
    while end > start and _is_padding(body[end - 1]):
        end -= 1
    return body[start:end].upper()


def _is_padding(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith(("P", "Z", "C"))
