"""What `smsbridge check` found: one line per finding, a fix for each problem."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One checked thing: `fix` is None when it is fine, else what to do about it."""

    area: str
    what: str
    fix: str | None = None

    @property
    def ok(self) -> bool:
        """Whether nothing needs fixing."""
        return self.fix is None

    def line(self) -> str:
        """The finding as one line for people."""
        if self.ok:
            return f"ok    {self.area}: {self.what}"
        return f"FIX   {self.area}: {self.what} -> {self.fix}"


def good(area: str, what: str) -> Finding:
    """A finding that needs nothing."""
    return Finding(area, what)


def bad(area: str, what: str, fix: str) -> Finding:
    """A problem and its fix."""
    return Finding(area, what, fix)
