"""Hostile input to `POST /twilio/sms`: never a 500, and every well-signed text stored once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, select

from store import intake
from store.engine import make_engine
from store.models import Message, WebhookIntake
from tests.emulators import SlackEmulator
from tests.fuzzing import fuzz, tick
from tests.harness import AppServer, Twilio, make_settings

FIELDS = ["MessageSid", "AccountSid", "From", "To", "Body", "NumMedia", "OptOutType", "FromCity"]
text = st.text(st.characters(codec="utf-8"), max_size=60)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[AppServer, Engine]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    with SlackEmulator() as slack:
        app_settings = make_settings(tmp, slack)
        app = AppServer(app_settings).start()
        engine = make_engine(app_settings.database_url)
        yield app, engine
        engine.dispose()
        app.stop()


@fuzz(100)
@given(raw=st.binary(max_size=400), content_type=st.sampled_from(["form", "json", "none"]))
def test_arbitrary_bytes_are_refused_cleanly(
    server: tuple[AppServer, Engine], raw: bytes, content_type: str
) -> None:
    tick("twilio /sms arbitrary bytes")
    app, _ = server
    headers = {"X-Twilio-Signature": "c2lnbmF0dXJl"}
    if content_type == "form":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif content_type == "json":
        headers["Content-Type"] = "application/json"
    answer = httpx.post(f"{app.url}/twilio/sms", content=raw, headers=headers)
    assert answer.status_code in (400, 403, 413, 415)


@fuzz(100)
@given(
    overrides=st.dictionaries(st.sampled_from(FIELDS), text, max_size=4),
    dropped=st.lists(st.sampled_from(FIELDS), max_size=2),
    n=st.integers(min_value=1, max_value=2**60),
)
def test_signed_but_odd_parameters_never_crash(
    server: tuple[AppServer, Engine], overrides: dict[str, str], dropped: list[str], n: int
) -> None:
    tick("twilio /sms signed odd parameters")
    app, _ = server
    twilio = Twilio(app.url, app.url)
    params = twilio.params(n, "hello", "+14155550100")
    params.update(overrides)
    for name in dropped:
        params.pop(name, None)
    answer = twilio.send(params)
    assert answer.status_code in (200, 400, 403), answer.text
    if answer.status_code == 200:
        # Accepted means stored, before the answer: raw in the intake, or already applied.
        sid = params["MessageSid"]
        assert messages(server[1], sid) + waiting(server[1], sid) >= 1
        # Then applied, exactly once.
        deadline = time.monotonic() + 15
        while waiting(server[1], sid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert waiting(server[1], sid) == 0
        assert messages(server[1], sid) == 1


def messages(engine: Engine, sid: str) -> int:
    with Session(engine) as session:
        return len(session.exec(select(Message).where(Message.twilio_sid == sid)).all())


def waiting(engine: Engine, sid: str) -> int:
    """Rows of this text still in the intake (stored before the ack, not yet applied)."""
    with Session(intake.engine_for(engine)) as session:
        query = select(WebhookIntake).where(WebhookIntake.key == f"twilio:{sid}")
        return len(session.exec(query).all())
