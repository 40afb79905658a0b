"""Shared fixtures: a migrated database and settings for the tests."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url

from bridge.config import Settings, load_settings
from store.engine import make_engine
from store.migrate import upgrade
from tests.emulators import SlackEmulator, TwilioEmulator

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "twilio-auth-token-for-tests"
SLACK_TOKEN = "xoxb-test"
SIGNING_SECRET = "slack-signing-secret-for-tests"
BUSINESS = "+15550001111"
CHANNEL = "C0INBOX"

# The property-based battery's tally of generated cases (printed at the end of a run).
pytest_plugins = ("tests.fuzzing",)


def base_env(**overrides: str) -> dict[str, str]:
    """The variables a test deployment sets; emulator URLs are added by the caller."""
    env = {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CHANNEL": CHANNEL,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": BUSINESS,
        # Replies go at any hour unless a test is about quiet hours (they use a fake clock).
        "QUIET_HOURS": "00:00-24:00",
    }
    env.update(overrides)
    return env


@pytest.fixture
def settings() -> Settings:
    """Settings as a deployment with one business number would have them."""
    return load_settings(base_env(), env_file=None)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database: SQLite in a temporary file, or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'test.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    with postgres_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new database on the test cluster (`.ci/with-postgres`), dropped afterwards."""
    admin_url = os.environ.get("SMSBRIDGE_TEST_POSTGRES_URL")
    if not admin_url:
        if os.environ.get("SMSBRIDGE_REQUIRE_POSTGRES") == "1":
            pytest.fail("SMSBRIDGE_TEST_POSTGRES_URL is not set: run the tests via make test")
        pytest.skip("no PostgreSQL cluster (run via make test to get one)")
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


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


@pytest.fixture
def twilio_api() -> Iterator[TwilioEmulator]:
    """A Twilio REST emulator on 127.0.0.1 for the test account."""
    with TwilioEmulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as emulator:
        yield emulator
