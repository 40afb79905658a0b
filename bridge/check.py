"""`smsbridge check [--fix]`: the configuration against Slack, Twilio, the database and mail."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from bot.manifest import is_loopback
from bot.poster import make_client
from bot.setup_check import check_slack
from bridge.config import Settings
from bridge.findings import Finding, bad, good
from bridge.forwarding import mail_sender
from bridge.mail import MailUnavailable, SmtpMailer, SmtpServer
from bridge.twilio_check import check_twilio, twilio_client
from store import migrate
from store.engine import make_engine

log = logging.getLogger(__name__)

_SMTP_TIMEOUT_SECONDS = 10.0


def run_check(settings: Settings, *, fix: bool = False, out: TextIO = sys.stdout) -> int:
    """Print one line per finding; 0 only when nothing needs fixing."""
    # The findings say what failed and why; the clients' own failure logs would repeat it.
    for name in ("slack_sdk", "twilio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    findings = gather(settings, fix=fix)
    for finding in findings:
        print(finding.line(), file=out)
    problems = sum(not f.ok for f in findings)
    if problems:
        print(f"{problems} to fix.", file=out)
        return 1
    print("All is well.", file=out)
    return 0


def gather(settings: Settings, *, fix: bool) -> list[Finding]:
    """Every finding, in the order an operator fixes them; a check that crashes is a finding."""
    missing = settings.missing_credentials()
    if missing:
        fix_text = "set " + ", ".join(missing) + " in the environment or .env"
        return [bad("Config", "missing " + ", ".join(missing), fix_text)]
    steps: list[tuple[str, Callable[[], list[Finding]]]] = [
        ("PUBLIC_URL", lambda: [_public_url(settings)]),
        ("Database", lambda: [_database(settings)]),
        ("Slack", lambda: _slack(settings)),
        ("Twilio", lambda: _twilio(settings, fix=fix)),
        ("Email", lambda: _smtp(settings)),
    ]
    findings: list[Finding] = []
    for area, step in steps:
        try:
            findings += step()
        except Exception as exc:  # one broken check must not hide the others
            log.debug("check of %s failed", area, exc_info=True)
            findings.append(bad(area, f"the check failed: {type(exc).__name__}", "report this"))
    return findings


def _public_url(settings: Settings) -> Finding:
    url = settings.public_url
    if url is None:
        return bad(
            "PUBLIC_URL",
            "not set, so Twilio and Slack cannot reach this service",
            "set PUBLIC_URL to the https address of your TLS proxy, e.g. https://sms.example.com",
        )
    if url.startswith("https://") or is_loopback(url):
        return good("PUBLIC_URL", url)
    return bad(
        "PUBLIC_URL",
        f"{url} is plain http: Twilio's and Slack's requests would cross the internet unencrypted",
        "serve behind a TLS proxy and set PUBLIC_URL to its https:// address",
    )


def _database(settings: Settings) -> Finding:
    engine = make_engine(settings.database_url)
    where = engine.url.render_as_string(hide_password=True)
    try:
        behind = migrate.pending(engine)
    except SQLAlchemyError as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:160]
        return bad("Database", f"{where} does not answer: {detail}", "check DATABASE_URL")
    finally:
        engine.dispose()
    if behind:
        return bad(
            "Database",
            f"{where} is not at the newest schema",
            "run `smsbridge db upgrade` (serve also does it on start)",
        )
    return good("Database", f"{where} answers and is migrated")


def _slack(settings: Settings) -> list[Finding]:
    assert settings.slack_bot_token is not None
    client = make_client(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    channels = [c for c in (settings.slack_channel, *settings.routes.values()) if c]
    return check_slack(client, channels)


def _twilio(settings: Settings, *, fix: bool) -> list[Finding]:
    assert settings.twilio_account_sid is not None and settings.twilio_auth_token is not None
    client = twilio_client(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        api_url=settings.twilio_api_url,
    )
    numbers = [n for n in (settings.twilio_from, *settings.routes) if n]
    return check_twilio(client, numbers=numbers, public_url=settings.public_url, fix=fix)


def _smtp(settings: Settings) -> list[Finding]:
    if settings.smtp_url is None:
        return []  # mail is optional
    server = SmtpServer.from_url(settings.smtp_url)
    sender = mail_sender(settings)
    assert sender is not None  # there is always one when SMTP_URL is set
    try:
        SmtpMailer(server, sender=sender, timeout=_SMTP_TIMEOUT_SECONDS).probe()
    except MailUnavailable as exc:
        return [bad("Email", exc.reason, "check SMTP_URL (host, port, user and password)")]
    return [good("Email", f"{server.describe()} accepts us")]
