"""End to end: the real app with the Slack emulator and a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import CHANNEL, SLACK_TOKEN
from tests.emulators import SlackEmulator
from tests.harness import AppServer, Twilio, make_settings, texts_in, wait_for_thread
from tests.smtp_server import Received, SmtpSink

OWNER, ONCALL = "owner@shop.test", "oncall@shop.test"
PASSWORD = "smtp-Secret-42"
Serve = Callable[..., Twilio]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink(users={"bridge@shop.test": PASSWORD}) as server:
        yield server


@pytest.fixture
def serve(tmp_path: Path, slack: SlackEmulator, sink: SmtpSink) -> Iterator[Serve]:
    servers: list[AppServer] = []

    def start(**env: str) -> Twilio:
        mail = {
            "AUTORESPOND": "off",
            "SMTP_URL": sink.url("bridge@shop.test", PASSWORD),
            "EMAIL_FROM": "Shop <shop@shop.test>",
        }
        settings = make_settings(tmp_path, slack, None, **mail, **env)
        server = AppServer(settings).start()
        servers.append(server)
        return Twilio(server.url, server.url)

    yield start
    for server in servers:
        server.stop()


def thread_posts(slack: SlackEmulator) -> list[str]:
    """Every text posted into a thread (successful posts only)."""
    return [str(p["text"]) for p in slack.all_posts() if p.get("thread_ts")]


def fallback_mails(sink: SmtpSink) -> list[Received]:
    return [m for m in sink.received if m.message["Subject"].startswith("SMS from")]


def test_every_text_is_forwarded_with_a_link_to_its_thread(
    serve: Serve, slack: SlackEmulator, sink: SmtpSink
) -> None:
    twilio = serve(FORWARD_TO=OWNER, FALLBACK_AFTER_SECONDS="2")
    twilio.text(1, "Is my parcel on its way? 📦")
    twilio.text(2, "Merci beaucoup!")
    [parent] = wait_for_thread(slack, replies=2)
    first, second = sink.wait_for(2)
    assert first.login == "bridge@shop.test"
    assert first.rcpt_tos == (OWNER,) and "Is my parcel on its way? 📦" in first.part("plain")
    assert "Merci beaucoup!" in second.part("plain")
    link = f"https://example.slack.com/archives/{CHANNEL}/p"
    assert link in first.part("plain") and f"thread_ts={parent['ts']}" in first.part("plain")
    assert first.message["References"] == second.message["References"]
    assert first.message["Message-ID"] != second.message["Message-ID"]
    time.sleep(2.5)  # past FALLBACK_AFTER_SECONDS: Slack had both, nothing more is mailed
    assert len(sink.received) == 2


def test_slack_down_then_back_one_mail_and_one_post(
    serve: Serve, slack: SlackEmulator, sink: SmtpSink
) -> None:
    slack.down = True
    twilio = serve(FALLBACK_TO=ONCALL, FALLBACK_AFTER_SECONDS="2")
    started = time.monotonic()
    assert twilio.text(1, "hello while Slack is down").status_code == 200
    [mail] = sink.wait_for(1)
    assert time.monotonic() - started >= 1.9
    assert mail.rcpt_tos == (ONCALL,)
    plain = mail.part("plain")
    assert "Slack is having trouble (answered HTTP 503)" in plain
    assert "hello while Slack is down" in plain
    time.sleep(1.5)
    assert len(sink.received) == 1  # however long the outage: one mail per text
    slack.down = False
    slack.wait_for(lambda: len(thread_posts(slack)) >= 1, timeout=30)
    [parent] = wait_for_thread(slack, replies=1)
    assert texts_in(slack, parent["ts"]) == ["hello while Slack is down"]
    time.sleep(1)
    assert thread_posts(slack) == ["hello while Slack is down"] and len(sink.received) == 1


def test_a_revoked_token_sends_one_alert_and_every_text_once(
    serve: Serve,
    slack: SlackEmulator,
    sink: SmtpSink,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    slack.token = "xoxb-the-new-one"  # ours no longer works: invalid_auth
    twilio = serve(FALLBACK_TO=ONCALL, FALLBACK_AFTER_SECONDS="1")
    bodies = ["first secret words", "second secret words", "third secret words"]
    for n, body in enumerate(bodies, start=1):
        twilio.text(n, body, sender="+14155550123")
    mails = sink.wait_for(4)
    alerts = [m for m in mails if m.message["Subject"].startswith("smsbridge cannot post")]
    assert len(alerts) == 1 and len(fallback_mails(sink)) == 3
    assert "Slack refuses smsbridge's bot token (invalid_auth)" in alerts[0].part("plain")
    assert "SLACK_BOT_TOKEN" in alerts[0].part("plain")
    time.sleep(1.5)
    assert len(sink.received) == 4
    slack.token = SLACK_TOKEN
    slack.wait_for(lambda: len(thread_posts(slack)) >= 3, timeout=40)
    [parent] = wait_for_thread(slack, replies=3)
    assert texts_in(slack, parent["ts"]) == bodies
    assert len(sink.received) == 4
    logged = "\n".join(
        f"{r.name} {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO
    )
    assert "mailed to 1 recipient" in logged
    for secret in ("4155550123", "secret words", PASSWORD, SLACK_TOKEN):
        assert secret not in logged


def test_the_mail_server_down_then_back_mails_once(
    serve: Serve, slack: SlackEmulator, sink: SmtpSink
) -> None:
    sink.stop()
    twilio = serve(FORWARD_TO=OWNER, FALLBACK_AFTER_SECONDS="1")
    twilio.text(1, "hello")
    wait_for_thread(slack, replies=1)
    time.sleep(1.5)
    sink.start()
    [mail] = sink.wait_for(1, timeout=20)
    assert "hello" in mail.part("plain")
    time.sleep(1)
    assert len(sink.received) == 1
