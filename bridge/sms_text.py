"""Slack message text to plain SMS text, and splitting long texts into SMS-sized parts.

`slack_to_sms` reads the `text` of an Events API `message` event: Slack "mrkdwn", where `&`, `<`
and `>` typed by a person arrive as `&amp;`, `&lt;` and `&gt;`, and every `<...>` is markup
(mentions, channels, user groups, dates, links). The rendering, meant to read well on a phone:

- `<@U1>` is `@Name` (the lookup, else a legacy `|label`, else `@someone`); `<#C1|general>` is
  `#general` (label, else the lookup, else `#channel`); `<!subteam^S1|@team>` is `@team`
  (label, else the lookup, else `@group`); `<!here>`, `<!channel>`, `<!everyone>` are
  `@here`, `@channel`, `@everyone`; `<!date^...|text>` is its fallback text.
- `<url>` is the URL; `<url|label>` is `label (url)`, or just the URL when the label is the URL
  with or without its scheme (Slack's auto-links); `<mailto:a@b|a@b>` is the address,
  `<tel:...|label>` the label. Bare `https://` URLs are kept exactly as written.
- `*bold*`, `_italic_`, `~strike~` and inline code lose their marks, but only where Slack renders
  them: the mark must not touch a letter or digit on its outer side, nor a space on its inner
  side, and never spans lines (so `2*3*4`, `snake_case_name` and `*67` stay as written).
  A code block keeps its contents and their line breaks. Nothing inside code or URLs changes
  except the entity decoding Slack applies everywhere.
- Quotes keep their `> ` prefix, the convention texters and mail readers know; the legacy
  `>>>` (quote the rest of the message) becomes a `> ` on each following line. Lists pass
  through as Slack writes them (`• item`, `1. item`).
- `:shortcode:` emoji become Unicode, with Slack's skin tones (`:+1::skin-tone-2:`); codes no
  one knows (custom emoji, `10:30:45`) stay as written.
- Only `&amp;`, `&lt;` and `&gt;` are decoded, the only entities Slack writes, after the
  markup is read, so an escaped `&lt;@U1&gt;` is the literal text `<@U1>`, never a mention.
- Surrounding whitespace is trimmed and two or more blank lines in a row become one. The
  result may be empty.

`split_sms` cuts a text longer than one SMS body into parts, preferring paragraph breaks, then
line breaks, then spaces; it adds no "(1/2)" markers (they would eat into every part, and the
parts are sent in order to one thread of texts).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, lru_cache
from itertools import chain, islice, zip_longest

# The emoji package is imported where it is used, for the first `:code:`: its tables would
# weigh about 5 MiB in every process, and most never convert one.

Lookup = Callable[[str], str | None]

SMS_MAX_CHARS = 1600
"""Twilio's limit on a message body; longer texts must be split."""

_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITY_CHARS = {"amp": "&", "lt": "<", "gt": ">"}


def _decode(text: str) -> str:
    """Undo Slack's escaping in one pass, so `&amp;lt;` (a typed `&lt;`) stays `&lt;`."""
    return _ENTITY.sub(lambda m: _ENTITY_CHARS[m[1]], text)


def _free_chars(text: str, count: int) -> list[str]:
    """Private-use characters absent from `text`, to stand in for pieces set aside."""
    present = set(text)
    free = (chr(c) for c in chain(range(0xE000, 0xF900), range(0xF0000, 0x110000)))
    chosen = list(islice((char for char in free if char not in present), count))
    if len(chosen) < count:  # a text with over 137,000 distinct characters
        raise ValueError("text uses every private-use character")
    return chosen


@dataclass
class _Held:
    """Pieces taken out of the text while the rest is reformatted, each left as one marker.

    The passes over the rest never reorder, copy or drop a marker, so putting the pieces back
    in order is enough; a marker is a single non-word, non-space character, so it counts as
    punctuation for the formatting rules.
    """

    marker: str
    pieces: list[str] = field(default_factory=list)

    def hold(self, piece: str) -> str:
        self.pieces.append(piece)
        return self.marker

    def release(self, text: str) -> str:
        gaps = text.split(self.marker)
        return "".join(chain.from_iterable(zip_longest(gaps, self.pieces, fillvalue="")))


@dataclass(frozen=True)
class _Names:
    user: Lookup
    channel: Lookup
    usergroup: Lookup | None


# Slack escapes every literal `<`, so each `<...>` is markup.
_MARKUP = re.compile(r"<(?P<body>[^<>\n]+)>")
# URLs Slack did not wrap (from bots, say) are set aside too, so marks inside them survive; a
# URL does not end with punctuation or a formatting mark.
_BARE_URL = re.compile(r"(?<![\w/])https?://[^\s<>`]*[^\s<>`.,;:!?'\")\]}*_~]")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_SCHEME_PREFIX = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_BROADCASTS = {"here": "@here", "channel": "@channel", "everyone": "@everyone", "group": "@channel"}


def _render_markup(body: str, names: _Names) -> str:
    kind = body[0]
    if kind == "@":
        return _user(body[1:], names)
    if kind == "#":
        return _channel(body[1:], names)
    if kind == "!":
        return _special(body[1:], names)
    if _SCHEME.match(body):
        return _link(body)
    return _decode(f"<{body}>")  # not Slack markup: show it as written


def _split_label(body: str) -> tuple[str, str | None]:
    """`value|label` into its parts; an empty label is no label."""
    value, _, label = body.partition("|")
    return value, (_decode(label) or None)


def _at(name: str) -> str:
    return name if name.startswith("@") else f"@{name}"


def _user(body: str, names: _Names) -> str:
    # The lookup wins over a legacy label, which holds the username as it was back then.
    user_id, label = _split_label(body)
    name = names.user(user_id) if user_id else None
    return _at(name or label or "someone")


def _channel(body: str, names: _Names) -> str:
    channel_id, label = _split_label(body)
    name = label or (names.channel(channel_id) if channel_id else None)
    return "#" + (name or "channel").removeprefix("#")


def _special(body: str, names: _Names) -> str:
    command, label = _split_label(body)
    kind, _, argument = command.partition("^")
    if kind in _BROADCASTS:
        return _BROADCASTS[kind]
    if kind == "subteam":
        found = names.usergroup(argument) if names.usergroup and not label else None
        return _at(label or found or "group")
    if kind == "date":
        return label or _utc_date(argument)
    return label or kind


def _utc_date(argument: str) -> str:
    """A date token without fallback text (which Slack requires): its timestamp, in UTC."""
    try:
        moment = datetime.fromtimestamp(int(argument.split("^")[0]), tz=UTC)
    except (ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _link(body: str) -> str:
    target, label = _split_label(body)
    url = _decode(target)
    scheme, _, rest = url.partition(":")
    if scheme.lower() == "mailto":
        address = rest.split("?", 1)[0]
        return address if label in (None, address, url) else f"{label} ({address})"
    if scheme.lower() == "tel":
        return label or rest
    if label is None or _same_link(label, url):
        return url
    return f"{label} ({url})"


def _same_link(label: str, url: str) -> bool:
    def bare(text: str) -> str:
        return _SCHEME_PREFIX.sub("", text).rstrip("/").casefold()

    return bare(label) == bare(url)


_FENCE = re.compile(r"```(?P<body>.+?)```", re.DOTALL)
# Inline code needs the outer boundaries of the other marks (see _Mark), and no newline.
_INLINE_CODE = re.compile(r"(?<![^\W_])(?<!`)`(?P<body>[^`\n]+)`(?![^\W_])(?!`)")


def _fence_body(match: re.Match[str]) -> str:
    # The line breaks just inside the fences only frame the block.
    return match["body"].removeprefix("\n").removesuffix("\n")


def _hold_inline_code(match: re.Match[str], code: _Held) -> str:
    if match["body"].isspace():
        return match[0]  # Slack shows blank code as the backticks
    return code.hold(match["body"])


_LEGACY_QUOTE = re.compile(r"^>>>[^\S\n]?", re.MULTILINE)


def _expand_legacy_quote(text: str) -> str:
    """`>>>` quotes everything after it: spell that out as a `> ` on each line."""
    found = _LEGACY_QUOTE.search(text)
    if found is None:
        return text
    quoted = text[found.end() :].split("\n")
    return text[: found.start()] + "\n".join(f"> {line}".rstrip() for line in quoted)


@dataclass(frozen=True)
class _Mark:
    """Slack's rule for a formatting mark pair, as its clients render them.

    The opening mark follows a start, space or punctuation (not a letter, digit or the same
    mark) and precedes a non-space; the closing mark mirrors it; the pair stays on one line.
    """

    opening: re.Pattern[str]
    closing: re.Pattern[str]

    @classmethod
    def of(cls, mark: str) -> _Mark:
        m = re.escape(mark)
        return cls(
            re.compile(rf"(?<![^\W_])(?<!{m}){m}(?![\s{m}])"),
            re.compile(rf"(?<![\s{m}]){m}(?![^\W_])(?!{m})"),
        )

    def strip(self, text: str) -> str:
        """`text` without the marks of each pair, the pairs taken as they come."""
        out: list[str] = []
        done = start = 0
        while (opening := self.opening.search(text, start)) is not None:
            line_end = _line_end(text, opening.end())
            closing = self.closing.search(text, opening.end(), line_end)
            if closing is None:
                # No later opening on this line has a closing either: skip the line (a regex
                # would try each one, in time quadratic in the line's length).
                start = line_end + 1
                continue
            out += [text[done : opening.start()], text[opening.end() : closing.start()]]
            done = start = closing.end()
        out.append(text[done:])
        return "".join(out)


def _line_end(text: str, index: int) -> int:
    end = text.find("\n", index)
    return len(text) if end == -1 else end


# Bold first, so the inside of `_*both*_` and `*_both_*` comes apart pass by pass.
_MARKS = tuple(_Mark.of(mark) for mark in ("*", "_", "~"))


def _strip_marks(text: str) -> str:
    for mark in _MARKS:
        text = mark.strip(text)
    return text


def _prose(text: str) -> str:
    text = _expand_legacy_quote(text)
    text = _emojize(text)
    return _strip_marks(text)


_SHORTCODE = re.compile(r":(?P<name>[a-z0-9_+\-]+):(?::skin-tone-(?P<tone>[2-6]):)?")
# Slack's skin-tone-2..6 are the five Fitzpatrick modifiers, light to dark.
_SKIN_TONES = {str(n): chr(0x1F3FB + n - 2) for n in range(2, 7)}
_VS16 = "\ufe0f"

# Slack's emoji names come from iamcal/emoji-data. Most are also GitHub aliases or CLDR names
# in the emoji package, and its hyphenated names follow the rules in _iamcal_spellings. The
# rest are here, as Slack name -> emoji package name; the first four are Slack's own images
# that have a close Unicode twin.
_SLACK_NAMES = {
    "simple_smile": "slightly_smiling_face",
    "thumbsup_all": "thumbs_up",
    "squirrel": "chipmunk",
    "shipit": "chipmunk",
    "face_palm": "person_facepalming",
    "spock-hand": "vulcan_salute",
    "the_horns": "sign_of_the_horns",
    "i_love_you_hand_sign": "love-you_gesture",
    "hand_with_index_and_middle_fingers_crossed": "crossed_fingers",
    "smiling_face_with_3_hearts": "smiling_face_with_hearts",
    "grinning_face_with_star_eyes": "star-struck",
    "face_with_one_eyebrow_raised": "face_with_raised_eyebrow",
    "shocked_face_with_exploding_head": "exploding_head",
    "grinning_face_with_one_large_and_one_small_eye": "zany_face",
    "serious_face_with_symbols_covering_mouth": "face_with_symbols_on_mouth",
    "face_with_open_mouth_vomiting": "face_vomiting",
    "face_with_finger_covering_closed_lips": "shushing_face",
    "smiling_face_with_smiling_eyes_and_hand_covering_mouth": "face_with_hand_over_mouth",
    "male-doctor": "man_health_worker",
    "female-doctor": "woman_health_worker",
    "mother_christmas": "Mrs._Claus",
    "person_doing_cartwheel": "person_cartwheeling",
    "man-with-bunny-ears-partying": "men_with_bunny_ears",
    "men-with-bunny-ears-partying": "men_with_bunny_ears",
    "woman-with-bunny-ears-partying": "women_with_bunny_ears",
    "women-with-bunny-ears-partying": "women_with_bunny_ears",
    "man-wrestling": "men_wrestling",
    "woman-wrestling": "women_wrestling",
    "knife_fork_plate": "fork_and_knife_with_plate",
    "mostly_sunny": "sun_behind_small_cloud",
    "barely_sunny": "sun_behind_large_cloud",
    "partly_sunny_rain": "sun_behind_rain_cloud",
    "rain_cloud": "cloud_with_rain",
    "snow_cloud": "cloud_with_snow",
    "lightning": "cloud_with_lightning",
    "drum_with_drumsticks": "drum",
    "staff_of_aesculapius": "medical_symbol",
    "keycap_star": "keycap_*",
    "flag-england": "England",
    "flag-scotland": "Scotland",
    "flag-wales": "Wales",
}
_FAMILY = {"man", "woman", "boy", "girl"}


def _emojize(text: str) -> str:
    """Replace known shortcodes, trying every colon as a start (`:nope:smile:` has one)."""
    out: list[str] = []
    done = 0
    start = text.find(":")
    while start != -1:
        found = _SHORTCODE.match(text, start)
        if found is None or _digit_at(text, start - 1) or _digit_at(text, found.end()):
            start = text.find(":", start + 1)
            continue
        glyph = _emoji(found["name"], found["tone"])
        if glyph is None:
            # An unknown code with a tone (a custom emoji) stays whole.
            start = text.find(":", found.end() - 1 if found["tone"] is None else found.end())
            continue
        out += [text[done:start], glyph]
        done = found.end()
        start = text.find(":", done)
    out.append(text[done:])
    return "".join(out)


def _digit_at(text: str, index: int) -> bool:
    # Shortcodes touching digits are times and ratios (`12:100:30`), not emoji.
    return 0 <= index < len(text) and text[index].isdigit()


def _emoji(name: str, tone: str | None) -> str | None:
    glyph = _named_emoji(name)
    if glyph is None or tone is None:
        return glyph
    return _toned(glyph, _SKIN_TONES[tone])


@lru_cache(maxsize=2048)
def _named_emoji(name: str) -> str | None:
    if name.startswith("skin-tone-") and name[10:] in _SKIN_TONES:
        return _SKIN_TONES[name[10:]]
    if name in _SLACK_NAMES:
        return _library_emoji(_SLACK_NAMES[name])
    for spelling in (name, *_iamcal_spellings(name)):
        glyph = _library_emoji(spelling)
        if glyph is not None:
            return glyph
    return _flag(name)


def _library_emoji(name: str) -> str | None:
    import emoji

    code = f":{name}:"
    for language in ("alias", "en"):
        glyph = emoji.emojize(code, language=language)
        if glyph != code:
            return glyph
    return None


def _iamcal_spellings(name: str) -> Iterator[str]:
    """The emoji package's spellings of Slack's hyphenated names (`man-shrugging`...)."""
    if "-" not in name:
        return
    parts = name.split("-")
    yield "_".join(parts)
    if parts[0] in ("male", "female"):
        yield "_".join(("man" if parts[0] == "male" else "woman", *parts[1:]))
    if len(parts) == 3 and parts[1] == "heart":
        yield f"couple_with_heart_{parts[0]}_{parts[2]}"
    if len(parts) == 3 and parts[1] == "kiss":
        yield f"kiss_{parts[0]}_{parts[2]}"
    if set(parts) <= _FAMILY:
        yield "family_" + "_".join(parts)


def _flag(name: str) -> str | None:
    """`flag-xx` is the flag of the region with ISO code XX, when Unicode has one."""
    import emoji

    code = name.removeprefix("flag-")
    if code == name or len(code) != 2 or not code.isascii() or not code.isalpha():
        return None
    glyph = "".join(chr(0x1F1E6 + ord(letter) - ord("a")) for letter in code)
    return glyph if emoji.is_emoji(glyph) else None


def _toned(glyph: str, tone: str) -> str:
    # An emoji that takes no tone shows the tone after it, as Slack does.
    return _toned_emoji().get((glyph.replace(_VS16, ""), tone), glyph + tone)


@cache
def _toned_emoji() -> dict[tuple[str, str], str]:
    """Each single-tone emoji, by its untoned form (without VS16) and its tone."""
    import emoji

    tones = set(_SKIN_TONES.values())
    index: dict[tuple[str, str], str] = {}
    for glyph, data in emoji.EMOJI_DATA.items():
        used = {char for char in glyph if char in tones}
        if len(used) == 1 and data["status"] == emoji.STATUS["fully_qualified"]:
            base = "".join(char for char in glyph if char not in tones and char != _VS16)
            index.setdefault((base, used.pop()), glyph)
    return index


_BLANK_LINES = re.compile(r"\n(?:[^\S\n]*\n){2,}")


def slack_to_sms(
    text: str, *, user_name: Lookup, channel_name: Lookup, usergroup_name: Lookup | None = None
) -> str:
    """Plain SMS text for a Slack message's `text` (see the module docstring for the rules).

    The lookups map a Slack ID to a display name, or None when it is unknown.
    """
    names = _Names(user_name, channel_name, usergroup_name)
    markup, links, code = (_Held(marker) for marker in _free_chars(text, 3))
    rest = _MARKUP.sub(lambda m: markup.hold(_render_markup(m["body"], names)), text)
    # With the markup set aside, decoding can no longer make any.
    rest = _BARE_URL.sub(lambda m: links.hold(m[0]), _decode(rest))
    rest = _FENCE.sub(lambda m: code.hold(_fence_body(m)), rest)
    rest = _INLINE_CODE.sub(lambda m: _hold_inline_code(m, code), rest)
    rest = _prose(rest)
    for held in (code, links, markup):  # inner pieces last: code holds links and markup
        rest = held.release(rest)
    return _BLANK_LINES.sub("\n\n", rest.strip())


_SPACE = re.compile(r"\s+")


def split_sms(text: str, limit: int = SMS_MAX_CHARS) -> list[str]:
    """`text` in order, in parts of at most `limit` characters (code points).

    A text that fits is returned as is. Otherwise each part ends at a paragraph break, a line
    break or a space, preferring them in that order in the second half of a part; a word
    longer than `limit` is cut, between characters that do not combine. The whitespace at a
    break is dropped, so every part is non-empty and trimmed (a longer, all-blank text has no
    parts), and every other character is kept.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, not {limit}")
    if len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        end, resume = _break(rest, limit)
        parts.append(rest[:end])
        rest = rest[resume:].lstrip()
    if rest:
        parts.append(rest)
    return parts


def _break(text: str, limit: int) -> tuple[int, int]:
    """Where the part starting `text` (which begins with a non-space) ends and the next begins."""
    gaps = [gap for gap in _SPACE.finditer(text[: limit + 1]) if gap.start() > 0]
    if not gaps:
        end = _cut(text, limit)
        return end, end
    # A break in the first half would waste most of a part: there, only the last one counts.
    late = [gap for gap in gaps if gap.start() >= limit // 2]
    best = max(late, key=lambda gap: (_break_rank(gap[0]), gap.start())) if late else gaps[-1]
    return best.start(), best.end()


def _break_rank(gap: str) -> int:
    return min(gap.count("\n"), 2)  # paragraph, line, space


def _cut(text: str, limit: int) -> int:
    """Where to cut a word longer than `limit`: not before a combining character if avoidable."""
    for end in range(limit, max(limit - 16, 0), -1):
        if not _joins(text[end - 1], text[end]):
            return end
    return limit


def _joins(before: str, after: str) -> bool:
    return (
        before == "\u200d"
        or after in "\u200d\u20e3"
        or unicodedata.combining(after) != 0
        or "\ufe00" <= after <= "\ufe0f"
        or "\U0001f3fb" <= after <= "\U0001f3ff"
        or "\U000e0020" <= after <= "\U000e007f"
    )
