"""Typed settings, built once at start-up from the environment and `.env`."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from dotenv import dotenv_values

from bridge.ids import E164, ChannelId
from bridge.mail import SmtpServer, mailbox
from bridge.phones import parse_e164
from bridge.quiet_hours import (
    DEFAULT_QUIET_HOURS,
    QuietPolicy,
    Window,
    parse_rules,
    parse_window,
)

AutoRespond = Literal["off", "non-consented", "all"]
DEFAULT_AUTORESPOND_TEXT = (
    "{organization_prefix}: We are unable to respond as you have not consented to receive SMS. "
    "For help reach us at {email}."
)
DEFAULT_OPT_IN_TEXT = (
    "{organization_prefix}: You are subscribed to our texts. Reply HELP for help, "
    "STOP to unsubscribe. Msg & data rates may apply."
)
DEFAULT_HELP_TEXT = (
    "{organization_prefix}: For help, reach us at {email}. Reply STOP to unsubscribe. "
    "Msg & data rates may apply."
)
DEFAULT_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
DEFAULT_OPT_IN = ("START", "YES", "UNSTOP")
DEFAULT_HELP = ("HELP", "INFO")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    """Everything the service is configured with; secrets are excluded from repr."""

    public_url: str | None = None
    database_url: str = "sqlite:///smsbridge.db"
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_channel: ChannelId | None = None
    slack_api_url: str = "https://slack.com/api/"
    slack_managers: tuple[str, ...] = ()
    slack_manager_group: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = field(default=None, repr=False)
    twilio_from: E164 | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_api_url: str = "https://api.twilio.com"
    routes: Mapping[E164, ChannelId] = field(default_factory=dict)
    quiet_hours: Window = DEFAULT_QUIET_HOURS
    # By region (`US-FL`): replaces the built-in rule for it; None drops it.
    quiet_hours_rules: Mapping[str, Window | None] = field(default_factory=dict)
    default_timezone: str = "America/New_York"
    autorespond: AutoRespond = "non-consented"
    autorespond_text: str = DEFAULT_AUTORESPOND_TEXT
    autorespond_cooldown_hours: float = 24.0
    opt_in_text: str = DEFAULT_OPT_IN_TEXT
    help_text: str = DEFAULT_HELP_TEXT
    default_region: str = "US"
    organization_prefix: str = ""
    support_email: str = ""
    response_sla_minutes: int = 60
    smtp_url: str | None = field(default=None, repr=False)
    email_from: str = ""
    forward_to: tuple[str, ...] = ()
    fallback_to: tuple[str, ...] = ()
    fallback_after_seconds: int = 300
    note_prefix: str = "//"
    slack_post_rate: float = 1.0
    slack_post_burst: int = 3
    twilio_mps: float = 1.0
    log_level: str = "INFO"
    opt_out_keywords: tuple[str, ...] = DEFAULT_OPT_OUT
    opt_in_keywords: tuple[str, ...] = DEFAULT_OPT_IN
    help_keywords: tuple[str, ...] = DEFAULT_HELP
    media_ttl_hours: int = 24
    inbox_size: int = 10
    resolved_new_thread: bool = True
    sla_mention: str | None = None
    bump_after_minutes: int = 60
    # Texts per minute from one number above which its posts are combined (None: never).
    flood_limit: int | None = 20
    # Message words older than this many days are purged (None: kept).
    retention_days: int | None = None

    def missing_credentials(self) -> list[str]:
        """Names of the variables a live (non-sandbox) deployment still needs."""
        needed = {
            "SLACK_BOT_TOKEN": self.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.slack_signing_secret,
            "SLACK_CHANNEL": self.slack_channel,
            "TWILIO_ACCOUNT_SID": self.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": self.twilio_auth_token,
        }
        missing = [name for name, value in needed.items() if not value]
        if not (self.twilio_from or self.twilio_messaging_service_sid):
            missing.append("TWILIO_FROM")
        return missing

    @property
    def quiet_policy(self) -> QuietPolicy:
        """QUIET_HOURS with the regional rules."""
        return QuietPolicy(self.quiet_hours, self.quiet_hours_rules)

    def channel_for(self, business_number: str) -> ChannelId | None:
        """The inbox channel for a business number, or None when it has no route."""
        return self.routes.get(E164(business_number))

    def is_business_number(self, number: str) -> bool:
        """Whether `number` is one of ours (a route or the default sender)."""
        return number in self.routes or number == self.twilio_from

    def is_unconfigured(self) -> bool:
        """Whether nothing of a live deployment is set (then `serve` starts the sandbox)."""
        live = (
            self.slack_bot_token,
            self.slack_signing_secret,
            self.slack_channel,
            self.twilio_account_sid,
            self.twilio_auth_token,
            self.twilio_from,
            self.twilio_messaging_service_sid,
        )
        return not any(live) and not self.routes


def _text(raw: str) -> str:
    return raw


def _optional(raw: str) -> str | None:
    return raw or None


def _url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("expected an http(s) URL")
    return raw.rstrip("/")


def _slack_api_url(raw: str) -> str:
    return _url(raw) + "/"


def _database_url(raw: str) -> str:
    if "://" not in raw:
        raise ValueError("expected an SQLAlchemy URL such as sqlite:///smsbridge.db")
    return raw


def _channel(raw: str) -> ChannelId | None:
    if not raw:
        return None
    if not re.fullmatch(r"[CGD][A-Z0-9]{2,}", raw):
        raise ValueError("expected a Slack channel ID such as C0123ABCD")
    return ChannelId(raw)


def _e164(raw: str) -> E164 | None:
    if not raw:
        return None
    number = parse_e164(raw)
    if number is None or number != raw:
        raise ValueError("expected a phone number in E.164 form such as +15550001111")
    return number


def _prefixed(prefix: str, what: str) -> Callable[[str], str | None]:
    def parse(raw: str) -> str | None:
        if raw and not raw.startswith(prefix):
            raise ValueError(f"expected {what} starting with {prefix}")
        return raw or None

    return parse


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _keywords(raw: str) -> tuple[str, ...]:
    words = tuple(word.upper() for word in _list(raw))
    if not words:
        raise ValueError("expected at least one keyword")
    return words


def _routes(raw: str) -> dict[E164, ChannelId]:
    routes: dict[E164, ChannelId] = {}
    for item in _list(raw):
        number, sep, channel = item.partition("=")
        parsed_number, parsed_channel = _e164(number.strip()), _channel(channel.strip())
        if not sep or parsed_number is None or parsed_channel is None:
            raise ValueError("expected +15550001111=C0123,+15550002222=C0456")
        routes[parsed_number] = parsed_channel
    return routes


def _timezone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as America/New_York") from None
    return raw


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError("expected one of " + ", ".join(choices))
        return raw

    return parse


def _int(low: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        value = int(raw)
        if value < low:
            raise ValueError(f"expected a whole number of at least {low}")
        return value

    return parse


def _off_or_int(raw: str) -> int | None:
    if raw.lower() == "off":
        return None
    try:
        return _int(1)(raw)
    except ValueError:
        raise ValueError("expected a whole number of at least 1, or off") from None


def _positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("expected a number above 0")
    return value


def _non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0:
        raise ValueError("expected a number of at least 0")
    return value


TEMPLATE_FIELDS = ("organization_prefix", "email")


def _template(raw: str) -> str:
    try:
        fill_template(raw, organization_prefix="", email="")
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(
            "expected text with only {organization_prefix} and {email} in braces "
            f"({type(exc).__name__}: {exc})"
        ) from None
    return raw


def fill_template(template: str, *, organization_prefix: str, email: str) -> str:
    """An automatic text with its fields filled in; a missing prefix leaves no stray colon."""
    text = template.format(organization_prefix=organization_prefix, email=email)
    if not organization_prefix and template.startswith("{organization_prefix}: "):
        text = text.removeprefix(": ")
    return text.strip()


def _region(raw: str) -> str:
    region = raw.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError("expected a two-letter country code such as US or GB")
    return region


def _smtp_url(raw: str) -> str | None:
    if raw:
        SmtpServer.from_url(raw)  # its errors never hold the password
    return raw or None


def _mailbox(raw: str) -> str:
    mailbox(raw)
    return raw


def _addresses(raw: str) -> tuple[str, ...]:
    return tuple(mailbox(item)[1] for item in _list(raw))


def _log_level(raw: str) -> str:
    return _choice(*LOG_LEVELS)(raw.upper())


# A Home tab holds at most 100 blocks; each conversation takes two.
MAX_INBOX_SIZE = 45


def _inbox_size(raw: str) -> int:
    value = _int(1)(raw)
    if value > MAX_INBOX_SIZE:
        raise ValueError(f"expected at most {MAX_INBOX_SIZE} (a Home tab holds 100 blocks)")
    return value


def _switch(raw: str) -> bool:
    value = raw.lower()
    if value not in ("on", "off", "true", "false", "yes", "no", "1", "0"):
        raise ValueError("expected on or off")
    return value in ("on", "true", "yes", "1")


def _mention(raw: str) -> str:
    if not re.fullmatch(r"[SUW][A-Z0-9]{2,}|here|channel", raw):
        raise ValueError("expected a user group ID (S0123ABCD), a user ID, here or channel")
    return raw


# variable name -> (Settings attribute, parser, whether the value is secret)
_FIELDS: dict[str, tuple[str, Callable[[str], Any], bool]] = {
    "PUBLIC_URL": ("public_url", _url, False),
    "DATABASE_URL": ("database_url", _database_url, True),
    "SLACK_BOT_TOKEN": ("slack_bot_token", _prefixed("xox", "a Slack token"), True),
    "SLACK_SIGNING_SECRET": ("slack_signing_secret", _optional, True),
    "SLACK_CHANNEL": ("slack_channel", _channel, False),
    "SLACK_API_URL": ("slack_api_url", _slack_api_url, False),
    "SLACK_MANAGERS": ("slack_managers", _list, False),
    "SLACK_MANAGER_GROUP": ("slack_manager_group", _optional, False),
    "TWILIO_ACCOUNT_SID": ("twilio_account_sid", _prefixed("AC", "an account SID"), False),
    "TWILIO_AUTH_TOKEN": ("twilio_auth_token", _optional, True),
    "TWILIO_FROM": ("twilio_from", _e164, False),
    "TWILIO_MESSAGING_SERVICE_SID": (
        "twilio_messaging_service_sid",
        _prefixed("MG", "a Messaging Service SID"),
        False,
    ),
    "TWILIO_API_URL": ("twilio_api_url", _url, False),
    "ROUTES": ("routes", _routes, False),
    "QUIET_HOURS": ("quiet_hours", parse_window, False),
    "QUIET_HOURS_RULES": ("quiet_hours_rules", parse_rules, False),
    "DEFAULT_TIMEZONE": ("default_timezone", _timezone, False),
    "AUTORESPOND": ("autorespond", _choice("off", "non-consented", "all"), False),
    "AUTORESPOND_TEXT": ("autorespond_text", _template, False),
    "AUTORESPOND_COOLDOWN_HOURS": ("autorespond_cooldown_hours", _non_negative_float, False),
    "OPT_IN_TEXT": ("opt_in_text", _template, False),
    "HELP_TEXT": ("help_text", _template, False),
    "DEFAULT_REGION": ("default_region", _region, False),
    "ORGANIZATION_PREFIX": ("organization_prefix", _text, False),
    "SUPPORT_EMAIL": ("support_email", _text, False),
    "RESPONSE_SLA_MINUTES": ("response_sla_minutes", _int(1), False),
    "SMTP_URL": ("smtp_url", _smtp_url, True),
    "EMAIL_FROM": ("email_from", _mailbox, False),
    "FORWARD_TO": ("forward_to", _addresses, False),
    "FALLBACK_TO": ("fallback_to", _addresses, False),
    "FALLBACK_AFTER_SECONDS": ("fallback_after_seconds", _int(0), False),
    "NOTE_PREFIX": ("note_prefix", _text, False),
    "SLACK_POST_RATE": ("slack_post_rate", _positive_float, False),
    "SLACK_POST_BURST": ("slack_post_burst", _int(1), False),
    "TWILIO_MPS": ("twilio_mps", _positive_float, False),
    "LOG_LEVEL": ("log_level", _log_level, False),
    "OPT_OUT_KEYWORDS": ("opt_out_keywords", _keywords, False),
    "OPT_IN_KEYWORDS": ("opt_in_keywords", _keywords, False),
    "HELP_KEYWORDS": ("help_keywords", _keywords, False),
    "MEDIA_TTL_HOURS": ("media_ttl_hours", _int(1), False),
    "INBOX_SIZE": ("inbox_size", _inbox_size, False),
    "RESOLVED_NEW_THREAD": ("resolved_new_thread", _switch, False),
    "SLA_MENTION": ("sla_mention", _mention, False),
    "BUMP_AFTER_MINUTES": ("bump_after_minutes", _int(0), False),
    "FLOOD_LIMIT": ("flood_limit", _off_or_int, False),
    "RETENTION_DAYS": ("retention_days", _off_or_int, False),
}


# Set but empty, these turn an automatic text off; other empty variables take the default.
_EMPTY_MEANS_NONE = frozenset({"OPT_IN_TEXT", "HELP_TEXT"})
# Set but empty, these are a mistake: a blank quiet-hours window must not mean "never quiet".
_EMPTY_IS_AN_ERROR = frozenset({"QUIET_HOURS"})


def load_settings(
    environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
) -> Settings:
    """Build settings from `environ` (default: the process), then `env_file`; environ wins."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    for name, (attribute, parse, secret) in _FIELDS.items():
        raw = merged.get(name)
        if raw is not None and raw.strip() == "" and name in _EMPTY_MEANS_NONE:
            values[attribute] = ""
            continue
        if raw is not None and raw.strip() == "" and name in _EMPTY_IS_AN_ERROR:
            raise ConfigError(f"{name}: is set but empty; expected HH:MM-HH:MM such as 08:00-21:00")
        if raw is None or raw.strip() == "":
            continue
        try:
            values[attribute] = parse(raw.strip())
        except ValueError as exc:
            shown = "" if secret else f" (got {raw.strip()[:40]!r})"
            raise ConfigError(f"{name}: {_reason(exc)}{shown}") from None
    if "fallback_to" not in values:
        values["fallback_to"] = values.get("forward_to", ())
    return Settings(**values)


def _reason(exc: ValueError) -> str:
    text = str(exc)
    if text.startswith(("invalid literal", "could not convert")):
        return "expected a number"
    return text
