"""The start-up line: which Slack workspace, channels and numbers this process serves."""

from __future__ import annotations

import logging
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bridge.config import Settings
from bridge.phones import masked

log = logging.getLogger("smsbridge")
_quiet = logging.getLogger("smsbridge.announce.client")
_quiet.setLevel(logging.CRITICAL)
_ATTEMPTS = 5
_RETRY_SECONDS = 1.0


class Announcer:
    """Logs the start-up line from a thread: start-up never waits for Slack to answer."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="announce", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stay quiet from now on (a process shutting down may have closed its log)."""
        self._stopped.set()
        self._thread.join(timeout=1)

    def _run(self) -> None:
        line = _describe(self._settings, self._stopped)
        if not self._stopped.is_set():
            log.info("%s", line)


def announce(settings: Settings) -> Announcer:
    """Start announcing what this process serves."""
    return Announcer(settings)


def _describe(settings: Settings, stopped: threading.Event) -> str:
    assert settings.slack_bot_token is not None
    # The line says itself when Slack cannot be reached: the client need not log it too.
    client = WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=5,
        retry_handlers=[],
        logger=_quiet,
    )
    workspace = ""
    for _attempt in range(_ATTEMPTS):
        try:
            data = client.auth_test().data
        except SlackApiError as exc:
            workspace = f"a Slack workspace that refused auth.test ({_error(exc)})"
            break
        except OSError as exc:
            # At boot the network (or, in the sandbox, our own listener) may not be up yet.
            workspace = f"a Slack workspace that did not answer auth.test ({type(exc).__name__})"
            if stopped.wait(_RETRY_SECONDS):
                break
            continue
        team = data.get("team", "?") if isinstance(data, dict) else "?"
        team_id = data.get("team_id", "?") if isinstance(data, dict) else "?"
        workspace = f"Slack workspace {team} ({team_id})"
        break
    channels = {c: None for c in (settings.slack_channel, *settings.routes.values()) if c}
    numbers = {n: None for n in (settings.twilio_from, *settings.routes) if n}
    return "serving {}: channels {}; numbers {}".format(
        workspace,
        ", ".join(channels) or "none",
        ", ".join(masked(n) for n in numbers) or "none (a Messaging Service)",
    )


def _error(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error") or f"HTTP {exc.response.status_code}")
