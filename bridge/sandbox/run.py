"""`smsbridge serve --sandbox`: refuse what is unsafe, then serve the sandbox with uvicorn."""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path

from bridge.config import Settings

log = logging.getLogger("smsbridge")

DATABASE_FILE = "smsbridge-sandbox.db"


def serve_sandbox(settings: Settings, *, host: str, port: int, allow_remote: bool) -> int:
    """Serve the sandbox on host:port; 2 when it must not start."""
    import uvicorn

    from bridge.sandbox.app import sandbox_app
    from bridge.sandbox.runtime import Sandbox

    if not settings.is_unconfigured():
        print(
            "smsbridge: the sandbox never runs with real Slack or Twilio settings: unset "
            "SLACK_*, TWILIO_* and ROUTES (or run `smsbridge serve` without --sandbox)",
            file=sys.stderr,
        )
        return 2
    if not allow_remote and not _loopback(host):
        print(
            f"smsbridge: the sandbox listens only on this machine (anyone reaching {host} could "
            "drive it); use --host 127.0.0.1, or add --allow-remote if you mean it",
            file=sys.stderr,
        )
        return 2
    public_url = f"http://{_reachable(host)}:{port}"
    database = Path.cwd() / DATABASE_FILE
    print(
        "smsbridge: no Slack or Twilio credentials are configured, so this is the built-in "
        f"sandbox: open {public_url}/sandbox (data in {database})",
        file=sys.stderr,
        flush=True,
    )
    app = sandbox_app(Sandbox(settings, public_url=public_url, database=database))
    # log_config=None: uvicorn logs through our handler (JSON off a terminal) too.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reachable(host: str) -> str:
    """The address the sandbox's bridge calls itself at (its emulators are in this process)."""
    if host in ("0.0.0.0", "::", "") or _loopback(host):  # noqa: S104 (compared, not bound)
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
