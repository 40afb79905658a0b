"""Shared fixtures: a migrated database and settings for the tests."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

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
    """A migrated, empty database: SQLite in a temporary file, or a fresh PostgreSQL one.

    Both are copies of a database this test process migrated once (the migrations run in
    full there, and test_store checks them against the models), not migrated anew per test.
    """
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        yield engine
        engine.dispose()
        return
    template: str = request.getfixturevalue("postgres_template")
    with postgres_database(template=template) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template() -> Path:
    """A SQLite file migrated to head, closed (its WAL checkpointed) so it can be copied."""
    return migrated_sqlite_template()


@functools.cache
def migrated_sqlite_template() -> Path:
    """This process's SQLite template, migrated on first use, removed when the process ends.

    The end-to-end harness starts apps on copies too: the app's own migration at start-up
    then finds the schema at head (tests that start on an empty database do so on purpose).
    """
    folder = Path(tempfile.mkdtemp(prefix="smsbridge-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "migrated.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """The name of a database migrated to head, for CREATE DATABASE ... TEMPLATE."""
    with postgres_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        yield str(make_url(url).database)


@contextlib.contextmanager
def postgres_database(template: str | None = None) -> Iterator[str]:
    """A new database on the test cluster (`.ci/with-postgres`), dropped afterwards.

    Empty, or a copy of `template` (which must have no open connections).
    """
    admin_url = os.environ.get("SMSBRIDGE_TEST_POSTGRES_URL")
    if not admin_url:
        if os.environ.get("SMSBRIDGE_REQUIRE_POSTGRES") == "1":
            pytest.fail("SMSBRIDGE_TEST_POSTGRES_URL is not set: run the tests via make test")
        pytest.skip("no PostgreSQL cluster (run via make test to get one)")
    name = f"test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"{copy}')
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
