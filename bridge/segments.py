"""How many SMS segments a text costs: GSM-7 (160, or 153 when split) or UCS-2 (70, or 67)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67


@dataclass(frozen=True)
class Segments:
    """A text's cost: `count` segments in `encoding` ("GSM-7" or "UCS-2")."""

    count: int
    encoding: str

    @property
    def unicode(self) -> bool:
        """True when one character outside GSM-7 (an emoji, a curly quote) forced UCS-2."""
        return self.encoding == "UCS-2"


def count_segments(text: str) -> Segments:
    """The segments carriers bill for `text`, as Twilio counts them without Smart Encoding."""
    try:
        # Characters of the extension table (€ [ ] { } ...) take two septets: the codec says so.
        septets = len(text.encode("gsm03.38"))
    except UnicodeEncodeError:
        units = len(text.encode("utf-16-le")) // 2
        return Segments(_parts(units, UCS2_SINGLE, UCS2_PART), "UCS-2")
    return Segments(_parts(septets, GSM_SINGLE, GSM_PART), "GSM-7")


def total_segments(texts: Iterable[str]) -> Segments:
    """The cost of several texts sent one after the other (a long reply's parts)."""
    counted = [count_segments(t) for t in texts]
    if not counted:
        return Segments(0, "GSM-7")
    encoding = "UCS-2" if any(s.unicode for s in counted) else "GSM-7"
    return Segments(sum(s.count for s in counted), encoding)


def _parts(units: int, single: int, part: int) -> int:
    return 1 if units <= single else math.ceil(units / part)
