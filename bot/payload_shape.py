"""The JSON shapes Slack documents for the payloads we dispatch, checked before Bolt sees them.

Bolt reads nested fields without looking at their types, so a signed but malformed payload
(a replayed body edited by someone holding the secret, or a bug on either side) made it fail
with a 500 and an error log. Only the pieces Bolt and our listeners read are checked, and only
against what Slack always sends, so no real payload is ever refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Where these keys appear in the checked objects, their values have these JSON types.
_OBJECTS = frozenset(
    {"event", "view", "container", "message", "previous_message", "item", "state", "root"}
)
_OBJECT_OR_ID = frozenset({"user", "team", "channel", "enterprise"})
_LISTS_OF_OBJECTS = frozenset({"actions", "authorizations", "files", "blocks"})
_STRINGS = frozenset(
    {
        "type",
        "subtype",
        "callback_id",
        "action_id",
        "ts",
        "thread_ts",
        "event_ts",
        "deleted_ts",
        "channel_type",
        "team_id",
        "user_id",
        "channel_id",
        "enterprise_id",
        "api_app_id",
        "bot_id",
        "trigger_id",
        "private_metadata",
        "tab",
        "event_id",
        "user_team",
    }
)
# The nested objects Bolt or our listeners read fields of.
_NESTED = ("event", "view", "container", "message", "previous_message", "item", "root")


def shape_problem(body: Any) -> str | None:
    """What is wrong with a parsed payload's shape, or None when Slack could have sent it."""
    if not isinstance(body, dict):
        return "the payload is not a JSON object"
    if isinstance(body.get("command"), str) and "payload" not in body:
        return None  # a slash command: flat form fields, all strings
    if not isinstance(body.get("type"), str):
        return "the payload has no type"
    checked = [body]
    for key in _NESTED:
        if isinstance(body.get(key), dict):
            checked.append(body[key])
            for inner in ("message", "previous_message", "root", "state"):
                if isinstance(body[key].get(inner), dict):
                    checked.append(body[key][inner])
    for obj in checked:
        problem = _fields_problem(obj)
        if problem:
            return problem
    return _required_problem(body)


def _fields_problem(obj: dict[str, Any]) -> str | None:
    for key, value in obj.items():
        if key in _STRINGS and not (value is None or isinstance(value, str)):
            return f"{key} is not a string"
        if key in _OBJECTS and not isinstance(value, dict):
            return f"{key} is not an object"
        if key in _OBJECT_OR_ID and not _object_or_id(value):
            return f"{key} is neither an ID nor an object with one"
        if key in _LISTS_OF_OBJECTS and not _objects(value):
            return f"{key} is not a list of objects"
    return None


def _required_problem(body: dict[str, Any]) -> str | None:
    kind = body["type"]
    if kind == "event_callback" and not isinstance(body.get("event", {}).get("type"), str):
        return "an event without a type"
    if kind == "block_actions":
        actions = body.get("actions")
        if not actions or not all(isinstance(a.get("action_id"), str) for a in actions):
            return "a button press without its action"
        if not isinstance(body.get("user"), dict):
            return "a button press without its user"
    if kind in ("view_submission", "view_closed"):
        view = body.get("view")
        if not isinstance(view, dict) or not all(
            isinstance(view.get(k), str) for k in ("type", "callback_id")
        ):
            return "a dialog without its view"
    return None


def _object_or_id(value: Any) -> bool:
    if value is None or isinstance(value, str):
        return True
    if not isinstance(value, dict):
        return False
    return all(value.get(k) is None or isinstance(value[k], str) for k in ("id", "team_id"))


def _objects(value: Any) -> bool:
    return isinstance(value, list) and _all_dicts(value)


def _all_dicts(items: Iterable[Any]) -> bool:
    return all(isinstance(item, dict) for item in items)
