"""At INFO, logs hold no full phone number, message body or secret."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, CHANNEL, SIGNING_SECRET, SLACK_TOKEN
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import AppServer, Twilio, make_settings, wait_for_thread
from tests.slack_events import SlackEvents


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


def test_replies_log_nothing_personal(
    tmp_path: Path, slack: SlackEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    slack.add_user("UADMIN", "ann", is_admin=True)
    slack.add_user("UMEMBER", "mo")
    with TwilioEmulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN) as twilio_api:
        twilio_api.fail("messages.create", status=400, code=21211, message="+14155550123 bad")
        settings = make_settings(tmp_path, slack, twilio_api, AUTORESPOND="off", OPT_IN_TEXT="")
        server = AppServer(settings).start()
        try:
            twilio = Twilio(server.url, server.url)
            twilio.text(1, "hello", sender="+14155550123")
            twilio.text(2, "START", sender="+14155550123")
            [parent] = wait_for_thread(slack, replies=2)
            events = SlackEvents(server.url, SIGNING_SECRET)
            for user, text in [
                ("UADMIN", "failing secret reply"),
                ("UADMIN", "secret reply"),
                ("UMEMBER", "refused secret"),
            ]:
                events.reply(slack, CHANNEL, parent["ts"], user, text)
            slack.wait_for(lambda: len(twilio_api.sent) == 1 and len(slack.ephemerals) == 1)
        finally:
            server.stop()
    logged = "\n".join(
        f"{r.name} {r.getMessage()}" for r in caplog.records if r.levelno >= logging.INFO
    )
    assert "refused" in logged and "sent" in logged
    for secret in ("4155550123", "secret reply", "refused secret", "failing secret"):
        assert secret not in logged
    for secret in (AUTH_TOKEN, SIGNING_SECRET, SLACK_TOKEN):
        assert secret not in logged
