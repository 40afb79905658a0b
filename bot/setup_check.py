"""`smsbridge check`, Slack's part: the token, its scopes, and the bot in each inbox channel."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.manifest import bot_scopes
from bridge.findings import Finding, bad, good
from bridge.ids import ChannelId

log = logging.getLogger(__name__)

AREA = "Slack"
_TOKEN_FIXES = {
    "invalid_auth": "SLACK_BOT_TOKEN is not a valid token: copy the Bot User OAuth Token "
    "(xoxb-...) from the app's OAuth & Permissions page",
    "not_authed": "set SLACK_BOT_TOKEN to the app's Bot User OAuth Token (xoxb-...)",
    "account_inactive": "the token's app or workspace is deactivated: reinstall the app and "
    "copy its new bot token into SLACK_BOT_TOKEN",
    "token_revoked": "the token was revoked: reinstall the app and copy its new bot token "
    "into SLACK_BOT_TOKEN",
    "token_expired": "the token expired: turn token rotation off in the app (the manifest "
    "does) and reinstall it",
}


class SlackUnreachable(Exception):
    """Slack did not answer: `why` says how it failed."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def check_slack(client: WebClient, channels: Iterable[ChannelId]) -> list[Finding]:
    """auth.test (who we are, which scopes), then conversations.info per inbox channel."""
    try:
        response = _call(client, "auth_test")
    except SlackApiError as exc:
        error = _error(exc)
        fix = _TOKEN_FIXES.get(error, "check SLACK_BOT_TOKEN and SLACK_API_URL")
        return [bad(AREA, f"the bot token was refused ({error})", fix)]
    except SlackUnreachable as exc:
        return [bad(AREA, f"cannot reach the Web API: {exc.why}", _reach_fix(client))]
    data: dict[str, Any] = response.data if isinstance(response.data, dict) else {}
    findings = [
        good(
            AREA,
            f"signed in to {data.get('team', '?')} ({data.get('team_id', '?')}) "
            f"as @{data.get('user', '?')}",
        ),
        _scopes(response.headers),
    ]
    findings += [_membership(client, channel) for channel in dict.fromkeys(channels)]
    return findings


def _scopes(headers: Mapping[str, Any]) -> Finding:
    granted = _header(headers, "x-oauth-scopes")
    if granted is None:
        return bad(AREA, "Slack did not say which scopes the token has", "check SLACK_API_URL")
    have = {s.strip() for s in granted.split(",") if s.strip()}
    missing = [scope for scope in bot_scopes() if scope not in have]
    if missing:
        return bad(
            AREA,
            "the token lacks the scopes " + ", ".join(missing),
            "update the app from `smsbridge manifest --url PUBLIC_URL` and reinstall it "
            "(OAuth & Permissions > Reinstall), then copy the new bot token",
        )
    return good(AREA, "the token has every scope the manifest asks for")


def _membership(client: WebClient, channel: ChannelId) -> Finding:
    try:
        info = _call(client, "conversations_info", channel=channel).get("channel") or {}
    except SlackApiError as exc:
        error = _error(exc)
        if error == "channel_not_found":
            return bad(
                AREA,
                f"channel {channel} is not visible to the bot",
                "check the channel ID in SLACK_CHANNEL/ROUTES; for a private channel, "
                "invite the bot there (/invite @smsbridge)",
            )
        return bad(AREA, f"channel {channel}: Slack answered {error}", "check SLACK_BOT_TOKEN")
    except SlackUnreachable as exc:
        return bad(AREA, f"channel {channel}: {exc.why}", _reach_fix(client))
    name = f"#{info.get('name', channel)} ({channel})"
    if info.get("is_archived"):
        return bad(AREA, f"{name} is archived", "unarchive it or pick another inbox channel")
    if not info.get("is_member"):
        return bad(AREA, f"the bot is not in {name}", f"invite it: /invite @smsbridge in {name}")
    return good(AREA, f"the bot is in {name}")


def _call(client: WebClient, method: str, **kwargs: Any) -> Any:
    try:
        return getattr(client, method)(**kwargs)
    except SlackApiError as exc:
        if exc.response.status_code >= 500 or exc.response.status_code == 429:
            raise SlackUnreachable(f"Slack answered HTTP {exc.response.status_code}") from None
        raise
    except OSError as exc:
        log.debug("Slack unreachable", exc_info=True)
        raise SlackUnreachable(_os_reason(exc)) from None


def _error(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error") or f"HTTP {exc.response.status_code}")


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


def _os_reason(exc: OSError) -> str:
    reason = getattr(exc, "reason", None)  # urllib's URLError wraps the socket error
    inner = reason if isinstance(reason, BaseException) else exc
    return getattr(inner, "strerror", None) or str(inner) or type(inner).__name__


def _reach_fix(client: WebClient) -> str:
    return f"check the network and SLACK_API_URL (now {client.base_url})"
