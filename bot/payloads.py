"""Slack payloads Bolt cannot dispatch: signed, but without what their type promises."""

from __future__ import annotations

from typing import Any


def malformed_interaction(body: dict[str, Any]) -> bool:
    """A `block_actions` payload without an action (Bolt would fail on it with a 500)."""
    if body.get("type") != "block_actions":
        return False
    actions = body.get("actions")
    return not (isinstance(actions, list) and actions and isinstance(actions[0], dict))
