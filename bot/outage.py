"""Why Slack did not take a post, in words for the people the fallback mail goes to."""

from __future__ import annotations

from bot.slack_api import CONFIGURATION_ERRORS
from bridge.forwarding import ChatTrouble

_AUTH_FIX = (
    "put the app's Bot User OAuth Token (xoxb-…, on the app's OAuth & Permissions page) in "
    "SLACK_BOT_TOKEN, reinstalling the app to the workspace if it was removed, then restart "
    "smsbridge."
)
_SCOPE_FIX = (
    "reinstall the Slack app from the manifest (smsbridge manifest --url …) so that it has "
    "every permission it asks for, then restart smsbridge."
)
# Slack error -> (what is wrong, what to fix); `{channel}` is the inbox channel's ID.
_CONFIGURATION: dict[str, tuple[str, str]] = {
    "invalid_auth": ("Slack refuses smsbridge's bot token", _AUTH_FIX),
    "not_authed": ("smsbridge has no Slack bot token", _AUTH_FIX),
    "token_revoked": ("the Slack bot token was revoked", _AUTH_FIX),
    "token_expired": ("the Slack bot token expired", _AUTH_FIX),
    "account_inactive": ("the Slack app's bot user is deactivated", _AUTH_FIX),
    "channel_not_found": (
        "Slack cannot find the inbox channel {channel}",
        "check that SLACK_CHANNEL (and ROUTES) hold the channel's ID (C…, in the channel's "
        "details), and invite the bot to a private channel with /invite @smsbridge.",
    ),
    "not_in_channel": (
        "the smsbridge bot is not a member of the inbox channel {channel}",
        "invite it: in that channel, type /invite @smsbridge.",
    ),
    "is_archived": (
        "the inbox channel {channel} is archived",
        "unarchive it, or set SLACK_CHANNEL (or ROUTES) to a channel in use and restart.",
    ),
    "missing_scope": ("the Slack app lacks a permission it needs", _SCOPE_FIX),
    "no_permission": ("the Slack app is not allowed to post there", _SCOPE_FIX),
    "team_access_not_granted": ("the Slack app has no access to the workspace", _SCOPE_FIX),
}


def explain(error: str | None, channel: str) -> ChatTrouble:
    """`error` as the worker recorded it (a Slack error code or our summary of a failure)."""
    if not error:
        return ChatTrouble("it is still waiting in the delivery queue")
    shown = channel or "(unknown)"
    if error in _CONFIGURATION:
        summary, fix = _CONFIGURATION[error]
        return ChatTrouble(f"{summary.format(channel=shown)} ({error})", fix, key=error)
    if error in CONFIGURATION_ERRORS:
        return ChatTrouble(f"Slack refuses our posts ({error})", _SCOPE_FIX, key=error)
    if error == "ratelimited":
        return ChatTrouble("Slack is rate-limiting posts to the channel")
    if error.startswith("Slack answered HTTP"):
        return ChatTrouble(f"Slack is having trouble ({error.removeprefix('Slack ')})")
    if error.startswith("Slack unreachable"):
        return ChatTrouble(f"Slack cannot be reached ({error.partition(': ')[2] or 'no answer'})")
    return ChatTrouble(f"Slack did not take it ({error[:200]})")
