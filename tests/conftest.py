"""Shared fixtures: a migrated database and settings for the tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from bridge.config import Settings, load_settings
from store.engine import make_engine
from store.migrate import upgrade
from tests.emulators import SlackEmulator

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-auth-token-for-tests"
SLACK_TOKEN = "xoxb-test"
SIGNING_SECRET = "slack-signing-secret-for-tests"
BUSINESS = "+15550001111"
CHANNEL = "C0INBOX"


def base_env(**overrides: str) -> dict[str, str]:
    """The variables a test deployment sets; emulator URLs are added by the caller."""
    env = {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CHANNEL": CHANNEL,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": BUSINESS,
    }
    env.update(overrides)
    return env


@pytest.fixture
def settings() -> Settings:
    """Settings as a deployment with one business number would have them."""
    return load_settings(base_env(), env_file=None)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database in a temporary directory."""
    engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 12, 18, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The current fake time."""
        return self.current

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.current += timedelta(seconds=seconds)


@pytest.fixture
def slack() -> Iterator[SlackEmulator]:
    """A Slack Web API emulator on 127.0.0.1."""
    with SlackEmulator() as emulator:
        yield emulator


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock at a fixed afternoon in March 2026."""
    return FakeClock()
