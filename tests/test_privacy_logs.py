"""At INFO, logs hold no full phone number, message body or secret."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import AUTH_TOKEN, SIGNING_SECRET, SLACK_TOKEN
from tests.emulators import SlackEmulator
from tests.harness import AppServer, Twilio, make_settings, wait_for_thread


def test_a_full_round_logs_nothing_personal(
    tmp_path: Path, slack: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    slack.fail("chat.postMessage", status=500)  # a retry, so failures are logged too
    server = AppServer(make_settings(tmp_path, slack, ROUTES="+15550002222=C0OTHER")).start()
    try:
        twilio = Twilio(server.url, server.url)
        twilio.text(1, "my secret words", sender="+14155550123")
        twilio.text(2, "to a pool number", sender="+14155550123", To="+15550009999")
        twilio.text(3, "STOP", sender="+14155550123")
        wait_for_thread(slack, replies=3, parents=2)  # one thread per business number
        twilio.send(twilio.params(4, "forged", "+14155550123"), signature="bad")
    finally:
        server.stop()
    logged = "\n".join(
        f"{r.name} {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO
    )
    assert "inbound" in logged  # the log is not simply empty
    for secret in ("4155550123", "5550009999", "my secret words", "to a pool number"):
        assert secret not in logged
    for secret in (AUTH_TOKEN, SIGNING_SECRET, SLACK_TOKEN):
        assert secret not in logged
