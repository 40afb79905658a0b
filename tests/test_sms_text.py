"""Slack message text to SMS text: markup resolved, marks dropped, emoji drawn; long texts split."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bridge.sms_text import _SLACK_NAMES, SMS_MAX_CHARS, Lookup, slack_to_sms, split_sms

USERS = {"U123": "Dana", "W456": "Eli Park"}
CHANNELS = {"C123": "support"}
GROUPS = {"S123": "oncall"}


def convert(text: str, *, usergroup_name: Lookup | None = GROUPS.get) -> str:
    return slack_to_sms(
        text, user_name=USERS.get, channel_name=CHANNELS.get, usergroup_name=usergroup_name
    )


def slack_escape(text: str) -> str:
    """What Slack does to text a person types."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def visible(text: str) -> str:
    return "".join(char for char in text if not char.isspace())


ZWJ = "\u200d"

MENTIONS = [
    ("Hi <@U123>!", "Hi @Dana!"),
    ("<@W456> can help", "@Eli Park can help"),
    ("<@U999|dana>", "@dana"),
    ("<@U123|old_name>", "@Dana"),
    ("<@U999>", "@someone"),
    ("<@U999|>", "@someone"),
    ("see <#C999|general>", "see #general"),
    ("see <#C123>", "see #support"),
    ("see <#C123|>", "see #support"),
    ("see <#C999>", "see #channel"),
    ("<!subteam^S999|@team> please", "@team please"),
    ("<!subteam^S123>", "@oncall"),
    ("<!subteam^S999>", "@group"),
    ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
    ("<!here|here> <!channel|@channel> <!everyone|everyone>", "@here @channel @everyone"),
    ("Booked <!date^1392734382^{date_short}|Feb 18, 2014>.", "Booked Feb 18, 2014."),
    ("<!date^1392734382^{date} at {time}^https://x.com|Feb 18 at 6:39 AM>", "Feb 18 at 6:39 AM"),
    ("<!date^1392734382^{date_num}>", "2014-02-18 14:39 UTC"),
]

LINKS = [
    ("<https://x.com>", "https://x.com"),
    ("<https://x.com|the form>", "the form (https://x.com)"),
    ("<http://example.com|example.com>", "http://example.com"),
    ("<https://example.com/|example.com>", "https://example.com/"),
    ("<https://x.com/a|https://x.com/a>", "https://x.com/a"),
    ("<https://x.com/?a=1&amp;b=2|R&amp;D>", "R&D (https://x.com/?a=1&b=2)"),
    ("<mailto:a@b.com|a@b.com>", "a@b.com"),
    ("<mailto:a@b.com>", "a@b.com"),
    ("<mailto:a@b.com|Email Ann>", "Email Ann (a@b.com)"),
    ("<tel:+15551234567|(555) 123-4567>", "(555) 123-4567"),
    ("<tel:+15551234567>", "+15551234567"),
    ("<https://x.com/snake_case_path_|x>", "x (https://x.com/snake_case_path_)"),
    ("<https://x.com/*a*/~b~|docs>", "docs (https://x.com/*a*/~b~)"),
    ("bare https://x.com/_a_/*b*/:smile: stays", "bare https://x.com/_a_/*b*/:smile: stays"),
    ("(https://x.com/a_b_) and *more*", "(https://x.com/a_b_) and more"),
    ("a < b > c, not markup", "a < b > c, not markup"),
]

ENTITIES = [
    ("Tom &amp; Jerry", "Tom & Jerry"),
    ("1 &lt; 2 &gt; 0", "1 < 2 > 0"),
    ("&lt;@U123&gt;", "<@U123>"),
    ("&lt;#C123&gt; &lt;!here&gt;", "<#C123> <!here>"),
    ("typed &amp;lt; literally", "typed &lt; literally"),
    ("&quot;quoted&quot; &#39;x&#39; &nbsp;", "&quot;quoted&quot; &#39;x&#39; &nbsp;"),
    ("AT&amp;T", "AT&T"),
]

EMOJI = [
    ("Thanks :+1:", "Thanks 👍"),
    (":thumbsup: :thumbs_up: :smile: :grinning_face_with_big_eyes:", "👍 👍 😄 😃"),
    (":+1::skin-tone-2: :+1::skin-tone-6:", "👍🏻 👍🏿"),
    (":wave::skin-tone-3: :wave::skin-tone-4: :wave::skin-tone-5:", "👋🏼 👋🏽 👋🏾"),
    (":v::skin-tone-3:", "✌🏼"),
    (":man-shrugging::skin-tone-4:", f"🤷🏽{ZWJ}♂️"),
    (":smile::skin-tone-3:", "😄🏼"),
    (":simple_smile: :thumbsup_all: :squirrel:", "🙂 👍 🐿️"),
    (":spock-hand: :the_horns: :face_palm:", "🖖 🤘 🤦"),
    (":woman-raising-hand: :male-technologist:", f"🙋{ZWJ}♀️ 👨{ZWJ}💻"),
    (":man-woman-boy:", f"👨{ZWJ}👩{ZWJ}👦"),
    (":flag-us: :flag-de: :us:", "🇺🇸 🇩🇪 🇺🇸"),
    (
        ":flag-zz: :custom_logo: :custom::skin-tone-2:",
        ":flag-zz: :custom_logo: :custom::skin-tone-2:",
    ),
    ("Meet at 10:30:45, ratio 12:100:30", "Meet at 10:30:45, ratio 12:100:30"),
    ("re:nope:smile:", "re:nope😄"),
    ("Note: see you at 5: ok", "Note: see you at 5: ok"),
]

MARKS = [
    ("*bold* _italic_ ~strike~", "bold italic strike"),
    ("Your *appointment* is _tomorrow_.", "Your appointment is tomorrow."),
    ("*_both_* and _*both*_ and ~*all*~", "both and both and all"),
    ('(*aside*) "*quoted*"', '(aside) "quoted"'),
    ("*a*b* stays", "a*b stays"),
    ("2*3*4 = 24", "2*3*4 = 24"),
    ("snake_case_name and __init__", "snake_case_name and __init__"),
    ("dial *67 then *69", "dial *67 then *69"),
    ("5 * 3 * 2", "5 * 3 * 2"),
    ("~5 min or ~10 min", "~5 min or ~10 min"),
    ("**double**", "**double**"),
    ("*not\nbold*", "*not\nbold*"),
    ("*<@U123> will call*", "@Dana will call"),
    ("*:tada: done*", "🎉 done"),
]

CODE = [
    ("run `ls -la` now", "run ls -la now"),
    ("`*not bold*` and `:smile:` and `a_b_`", "*not bold* and :smile: and a_b_"),
    ("`&lt;tag&gt;`", "<tag>"),
    ("```\nline 1\n  *line 2*\n```", "line 1\n  *line 2*"),
    ("Try ```x = a_b * c_d``` today", "Try x = a_b * c_d today"),
    ("```see <https://x.com|docs> and <@U123>```", "see docs (https://x.com) and @Dana"),
    ("*see `x` here*", "see x here"),
    ("a`b`c and ` ` and ```", "a`b`c and ` ` and ```"),
]

QUOTES_AND_LISTS = [
    ("&gt; Can I move it?\nYes, *of course*", "> Can I move it?\nYes, of course"),
    ("&gt; one\n&gt; two\n\nok", "> one\n> two\n\nok"),
    ("Before\n&gt;&gt;&gt; all of\nthis", "Before\n> all of\n> this"),
    ("• first\n• second\n1. one\n- dash", "• first\n• second\n1. one\n- dash"),
    ("a &gt; b", "a > b"),
]

WHITESPACE = [
    ("  \n hello \n  ", "hello"),
    ("a\n\n\n\nb", "a\n\nb"),
    ("a\n\n\nb", "a\n\nb"),
    ("a\n \n\t\n\nb", "a\n\nb"),
    ("a\n\nb\nc", "a\n\nb\nc"),
    ("", ""),
    ("   ", ""),
    ("``` ```", ""),
]


@pytest.mark.parametrize(
    ("slack", "sms"),
    MENTIONS + LINKS + ENTITIES + EMOJI + MARKS + CODE + QUOTES_AND_LISTS + WHITESPACE,
)
def test_examples(slack: str, sms: str) -> None:
    assert convert(slack) == sms


def test_usergroup_without_lookup_uses_label_then_fallback() -> None:
    assert convert("<!subteam^S123|@ops>", usergroup_name=None) == "@ops"
    assert convert("<!subteam^S123>", usergroup_name=None) == "@group"


def test_usergroup_label_wins_over_lookup() -> None:
    assert convert("<!subteam^S123|@team>") == "@team"


def test_every_slack_only_name_is_drawn() -> None:
    for name in _SLACK_NAMES:
        assert convert(f":{name}:") != f":{name}:", name


def test_escaped_markup_never_reaches_the_lookups() -> None:
    asked: list[str] = []

    def lookup(key: str) -> str | None:
        asked.append(key)
        return "Dana"

    text = slack_to_sms("&lt;@U1&gt; &lt;#C1&gt;", user_name=lookup, channel_name=lookup)
    assert text == "<@U1> <#C1>"
    assert asked == []


def test_private_use_characters_survive() -> None:
    # The converter sets pieces aside behind private-use characters: a text's own must stay.
    text = "\ue000 *\ue001* <@U123> `\ue002`"
    assert convert(text) == "\ue000 \ue001 @Dana \ue002"


# Text a person types, as Slack sends it: escaped, never containing markup of its own.
typed = st.text(st.characters(codec="utf-8", exclude_characters="<"), max_size=40).map(slack_escape)
label = st.text(st.characters(codec="utf-8", exclude_characters="<>|\n"), max_size=12).map(
    slack_escape
)
maybe_label = st.one_of(st.just(""), label.map(lambda text: f"|{text}"))
slack_id = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789", min_size=1, max_size=11)
url = st.builds(
    "{}://{}.com/{}".format,
    st.sampled_from(["http", "https"]),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8),
    st.text("abc_*~.:", max_size=10),
)
markup = st.one_of(
    st.builds("<@{}{}{}>".format, st.sampled_from("UW"), slack_id, maybe_label),
    st.builds("<#C{}{}>".format, slack_id, maybe_label),
    st.builds("<!subteam^S{}{}>".format, slack_id, maybe_label),
    st.builds("<!{}{}>".format, st.sampled_from(["here", "channel", "everyone"]), maybe_label),
    st.builds("<!date^{}^{{date_short}}|{}>".format, st.integers(0, 2**31), label),
    st.builds("<{}{}>".format, url, maybe_label),
    st.builds("<mailto:{}@x.com{}>".format, slack_id, maybe_label),
    st.builds("<tel:+1{}{}>".format, st.text("0123456789", min_size=10, max_size=10), maybe_label),
)
slack_text = st.lists(st.one_of(typed, markup), max_size=8).map("".join)


def some_name(key: str) -> str | None:
    return f"Name{key[-1]}" if key[-1] in "13579" else None


@settings(max_examples=150, deadline=None)
@given(text=st.text(st.characters(codec="utf-8", exclude_characters="<>&:*_~`")))
def test_plain_text_is_unchanged(text: str) -> None:
    assume(not re.search(r"\n\s*\n\s*\n", text))  # runs of blank lines are collapsed
    assert convert(text) == text.strip()


@settings(max_examples=150, deadline=None)
@given(text=st.text(st.characters(codec="utf-8", exclude_characters=":*_~`")))
def test_escaping_is_undone_exactly(text: str) -> None:
    assume(not re.search(r"\n\s*\n\s*\n", text))
    assume(not re.search(r"(?m)^>>>", text))  # Slack's quote-the-rest mark
    assert convert(slack_escape(text)) == text.strip()


@settings(max_examples=100, deadline=None)
@given(text=slack_text)
def test_markup_is_always_resolved(text: str) -> None:
    sms = slack_to_sms(text, user_name=some_name, channel_name=some_name, usergroup_name=some_name)
    for token in ("<@", "<#", "<!"):
        assert token not in sms


@settings(max_examples=150, deadline=None)
@given(text=st.text(st.characters(codec="utf-8")))
def test_any_text_converts(text: str) -> None:
    sms = convert(text)
    assert sms == sms.strip()


@settings(max_examples=100, deadline=None)
@given(before=typed, user_id=slack_id, after=typed)
def test_escaped_mentions_stay_literal(before: str, user_id: str, after: str) -> None:
    text = f"{before} &lt;@{user_id}&gt; {after}"
    assert f"<@{user_id}>" in slack_to_sms(text, user_name=some_name, channel_name=some_name)


SPLITS = [
    ("short", 10, ["short"]),
    ("", 10, [""]),
    ("exactly10!", 10, ["exactly10!"]),
    ("one two three four", 9, ["one two", "three", "four"]),
    ("A" * 40 + "\n\n" + "B" * 20 + " " + "C" * 20, 70, ["A" * 40, "B" * 20 + " " + "C" * 20]),
    ("A" * 40 + "\n" + "B" * 20 + " " + "C" * 20, 70, ["A" * 40, "B" * 20 + " " + "C" * 20]),
    ("A" * 10 + "\n\n" + "B" * 50 + " " + "C" * 20, 70, ["A" * 10 + "\n\n" + "B" * 50, "C" * 20]),
    ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
    ("hi abcdefghij", 4, ["hi", "abcd", "efgh", "ij"]),
    ("  padded words here  ", 8, ["padded", "words", "here"]),
    ("e\u0301" * 4, 3, ["e\u0301", "e\u0301", "e\u0301", "e\u0301"]),
    ("👍🏻" * 3, 3, ["👍🏻", "👍🏻", "👍🏻"]),
    (" " * 12, 5, []),
]


@pytest.mark.parametrize(("text", "limit", "parts"), SPLITS)
def test_split_examples(text: str, limit: int, parts: list[str]) -> None:
    assert split_sms(text, limit) == parts


def test_split_default_limit_is_twilios() -> None:
    assert SMS_MAX_CHARS == 1600
    text = "word " * 1000
    parts = split_sms(text)
    assert len(parts) == 4
    assert all(len(part) <= SMS_MAX_CHARS for part in parts)
    assert split_sms("x" * 1600) == ["x" * 1600]


def test_split_refuses_a_useless_limit() -> None:
    with pytest.raises(ValueError, match="positive"):
        split_sms("text", 0)


letters = st.characters(codec="utf-8", exclude_categories=["Zs", "Zl", "Zp", "Cc"])
gap = st.sampled_from([" ", "  ", "\n", "\n\n", "\t", "\u00a0", " \n \n"])


def prose(longest: int = 12) -> st.SearchStrategy[str]:
    """Words of at most `longest` characters, each with the whitespace before it."""
    word = st.text(letters, min_size=1, max_size=longest)
    spaced = st.tuples(st.one_of(st.just(""), gap), word).map("".join)
    return st.lists(spaced, max_size=25).map(" ".join)


@st.composite
def prose_and_limit(draw: st.DrawFn) -> tuple[str, int]:
    limit = draw(st.integers(1, 40))
    return draw(prose(longest=limit)), limit


@settings(max_examples=100, deadline=None)
@given(text=st.one_of(prose(), st.text(st.characters(codec="utf-8"))), limit=st.integers(1, 40))
def test_split_keeps_everything_within_the_limit(text: str, limit: int) -> None:
    parts = split_sms(text, limit)
    if len(text) <= limit:
        assert parts == [text]
        return
    assert all(0 < len(part) <= limit for part in parts)
    assert visible("".join(parts)) == visible(text)


@settings(max_examples=100, deadline=None)
@given(case=prose_and_limit())
def test_split_breaks_only_between_words_that_fit(case: tuple[str, int]) -> None:
    text, limit = case
    assert " ".join(split_sms(text, limit)).split() == text.split()
