"""Configuration: typed values, environment over `.env`, one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, load_settings
from tests.conftest import base_env


def test_defaults_follow_the_contract() -> None:
    settings = load_settings({}, env_file=None)
    assert settings.database_url == "sqlite:///smsbridge.db"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.twilio_api_url == "https://api.twilio.com"
    assert (settings.quiet_hours.start_minute, settings.quiet_hours.end_minute) == (480, 1260)
    assert settings.default_timezone == "America/New_York"
    assert settings.autorespond == "non-consented"
    assert settings.note_prefix == "//"
    assert settings.fallback_after_seconds == 300
    assert (settings.slack_post_rate, settings.slack_post_burst, settings.twilio_mps) == (1, 3, 1)
    assert "STOP" in settings.opt_out_keywords and "UNSTOP" in settings.opt_in_keywords
    assert settings.missing_credentials() == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_CHANNEL",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_FROM",
    ]


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SLACK_CHANNEL=C0FROMFILE\nSUPPORT_EMAIL=help@shop.test\n")
    settings = load_settings({"SLACK_CHANNEL": "C0FROMENV"}, env_file=env_file)
    assert settings.slack_channel == "C0FROMENV"
    assert settings.support_email == "help@shop.test"


def test_routes_and_lists_are_parsed() -> None:
    settings = load_settings(
        base_env(
            ROUTES="+15550001111=C0123,+15550002222=C0456",
            SLACK_MANAGERS="U1, U2",
            FORWARD_TO="a@x.test,b@x.test",
        ),
        env_file=None,
    )
    assert settings.channel_for("+15550002222") == "C0456"
    assert settings.channel_for("+15559999999") is None
    assert settings.slack_managers == ("U1", "U2")
    assert settings.fallback_to == ("a@x.test", "b@x.test")
    assert settings.missing_credentials() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("QUIET_HOURS", "8-21"),
        ("QUIET_HOURS", "25:00-08:00"),
        ("DEFAULT_TIMEZONE", "Mars/Olympus"),
        ("AUTORESPOND", "sometimes"),
        ("ROUTES", "+15550001111:C0123"),
        ("TWILIO_FROM", "5550001111"),
        ("SLACK_POST_RATE", "fast"),
        ("SLACK_POST_BURST", "0"),
        ("PUBLIC_URL", "ftp://example.test"),
        ("LOG_LEVEL", "LOUD"),
        ("SLACK_CHANNEL", "#general"),
    ],
)
def test_a_malformed_value_names_its_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(base_env(**{name: value}), env_file=None)
    message = str(raised.value)
    assert message.startswith(f"{name}: ")
    assert "\n" not in message


def test_secrets_are_never_echoed() -> None:
    secret = "xoxp-not-a-bot-token-secret-value"
    with pytest.raises(ConfigError) as raised:
        load_settings(base_env(SLACK_BOT_TOKEN="oops" + secret), env_file=None)
    assert secret not in str(raised.value)
    settings = load_settings(base_env(), env_file=None)
    assert "xoxb-test" not in repr(settings)
    assert "twilio-auth-token" not in repr(settings)
