"""Calling Slack's Web API and turning its failures into the domain's ChatUnavailable."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bridge.ports import ChatUnavailable

# Errors that no retry fixes until someone changes the token, the app or the channel.
CONFIGURATION_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "missing_scope",
        "no_permission",
        "team_access_not_granted",
    }
)
# Slack's documentation says some part of the operation may have happened.
_MAYBE_DONE = frozenset({"fatal_error", "internal_error", "request_timeout", "service_unavailable"})
# The thread's parent was deleted: posting into it or updating it cannot succeed.
_THREAD_GONE = frozenset({"thread_not_found", "message_not_found"})


def call(client: WebClient, method: str, **kwargs: Any) -> dict[str, Any]:
    """Call a WebClient method by name; raise ChatUnavailable when Slack did not do it."""
    try:
        response = getattr(client, method)(**kwargs)
    except SlackApiError as exc:
        raise classify(exc) from None
    except OSError as exc:
        # Timeouts and dropped connections: Slack may or may not have acted.
        raise ChatUnavailable(f"Slack unreachable: {type(exc).__name__}", uncertain=True) from None
    data: dict[str, Any] = response.data if isinstance(response.data, dict) else {}
    return data


def classify(exc: SlackApiError) -> ChatUnavailable:
    """The domain's view of a Slack API error: retry when, uncertain, thread gone."""
    status = exc.response.status_code
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    error = str(data.get("error") or f"http_{status}")
    if status == 429:
        retry_after = float(exc.response.headers.get("Retry-After", 1) or 1)
        return ChatUnavailable("ratelimited", retry_after=retry_after)
    if status >= 500:
        return ChatUnavailable(f"Slack answered HTTP {status}", uncertain=True)
    return ChatUnavailable(
        error,
        uncertain=error in _MAYBE_DONE,
        configuration=error in CONFIGURATION_ERRORS,
        thread_gone=error in _THREAD_GONE,
    )
