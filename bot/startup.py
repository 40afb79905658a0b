"""The start-up line: which Slack workspace, channels and numbers this process serves."""

from __future__ import annotations

import logging
import threading

from slack_sdk.errors import SlackApiError

from bot.poster import make_client
from bridge.config import Settings
from bridge.phones import masked

log = logging.getLogger("smsbridge")


def announce(settings: Settings) -> threading.Thread:
    """Log the start-up line from a thread: start-up never waits for Slack to answer."""
    thread = threading.Thread(target=_announce, args=(settings,), name="announce", daemon=True)
    thread.start()
    return thread


def _announce(settings: Settings) -> None:
    assert settings.slack_bot_token is not None
    client = make_client(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=5)
    try:
        data = client.auth_test().data
        team = data.get("team", "?") if isinstance(data, dict) else "?"
        team_id = data.get("team_id", "?") if isinstance(data, dict) else "?"
        workspace = f"Slack workspace {team} ({team_id})"
    except (SlackApiError, OSError) as exc:
        workspace = f"a Slack workspace that did not answer auth.test ({type(exc).__name__})"
    channels = {c: None for c in (settings.slack_channel, *settings.routes.values()) if c}
    numbers = {n: None for n in (settings.twilio_from, *settings.routes) if n}
    log.info(
        "serving %s: channels %s; numbers %s",
        workspace,
        ", ".join(channels) or "none",
        ", ".join(masked(n) for n in numbers) or "none (a Messaging Service)",
    )
