"""Making untrusted text inert in Slack markup."""

from __future__ import annotations


def escape(text: str) -> str:
    """Escape Slack's control characters so text cannot mention, ping or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
