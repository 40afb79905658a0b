"""The database goes away mid-run: webhooks answer 503 rather than 200 without storing, and
everything resumes, once, when it is back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, make_url, text

from tests.conftest import CHANNEL, postgres_database
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import texts_in
from tests.live import ADMIN, Bridge, bridges


@pytest.fixture
def database() -> Iterator[str]:
    with postgres_database() as url:
        yield url


def _allow_connections(url: str, allowed: bool) -> None:
    """Close the database to new connections and cut the open ones, or open it again."""
    name = make_url(url).database
    admin = create_engine(os.environ["SMSBRIDGE_TEST_POSTGRES_URL"], isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"true" if allowed else "false"}'
        )
        if not allowed:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
    admin.dispose()


def test_webhooks_answer_503_while_the_database_is_away_and_resume_after(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, database: str
) -> None:
    env = {"DATABASE_URL": database, "AUTORESPOND": "off", "OPT_IN_TEXT": ""}
    with bridges(tmp_path, slack, twilio_api, **env) as boot:
        bridge: Bridge = boot()
        thread = bridge.thread()
        _allow_connections(database, False)
        try:
            params = bridge.phone.params(90, "Are you there?", "+14155550100")
            answer = bridge.phone.send(params)
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "5"
            _, refused = bridge.events.reply(slack, CHANNEL, thread, ADMIN, "Yes, we are")
            assert refused.status_code == 503
            health = httpx.get(f"{bridge.app.url}/healthz", timeout=10)
            assert health.status_code == 503
            status = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "delivered"}
            status |= {"AccountSid": params["AccountSid"]}
            assert bridge.phone.send(status, path="/twilio/status").status_code == 503
        finally:
            _allow_connections(database, True)
        # Twilio and Slack retry: stored and delivered, once each.
        assert bridge.phone.send(params).status_code == 200
        assert bridge.phone.send(params).status_code == 200
        bridge.reply(thread, ADMIN, "Yes, we are")
        bridge.wait_sent(1)
        slack.wait_for(lambda: "Are you there?" in texts_in(slack, thread), timeout=15)
        assert texts_in(slack, thread).count("Are you there?") == 1
        assert bridge.sent_bodies() == ["Yes, we are"]
