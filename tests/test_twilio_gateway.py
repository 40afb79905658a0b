"""The Twilio gateway against the emulated Messages API: what it sends and how it fails."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bridge.ports import OutgoingSms, SmsRejected, SmsUnavailable
from bridge.sandbox.emulators.twilio_api import params_media
from bridge.twilio_gateway import TwilioGateway
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, BUSINESS
from tests.emulators import TwilioEmulator

ROOT = Path(__file__).resolve().parent.parent
ALICE = "+14155550100"
SMS = OutgoingSms(to=ALICE, sender=BUSINESS, body="Your order shipped")


def _gateway(twilio_api: TwilioEmulator, token: str = AUTH_TOKEN) -> TwilioGateway:
    return TwilioGateway(
        account_sid=ACCOUNT_SID,
        auth_token=token,
        api_url=twilio_api.url,
        status_callback="https://bridge.example.com/twilio/status",
        timeout=2,
    )


def test_a_text_goes_from_the_business_number_with_a_status_callback(
    twilio_api: TwilioEmulator,
) -> None:
    sent = _gateway(twilio_api).send(SMS)
    [message] = twilio_api.sent
    assert (message["sid"], message["to"], message["from"]) == (sent.sid, ALICE, BUSINESS)
    assert message["body"] == "Your order shipped"
    assert message["status_callback"] == "https://bridge.example.com/twilio/status"


def test_with_a_messaging_service_it_still_goes_from_the_number_they_texted(
    twilio_api: TwilioEmulator,
) -> None:
    service = "MG" + "0" * 32
    _gateway(twilio_api).send(OutgoingSms(ALICE, BUSINESS, "hi", service=service))
    [message] = twilio_api.sent
    assert message["params"]["MessagingServiceSid"] == service
    assert message["from"] == BUSINESS


def test_permanent_refusals_carry_twilios_code(twilio_api: TwilioEmulator) -> None:
    twilio_api.fail("messages.create", status=400, code=21610, message="unsubscribed recipient")
    with pytest.raises(SmsRejected) as refused:
        _gateway(twilio_api).send(SMS)
    assert refused.value.code == 21610


@pytest.mark.parametrize(
    ("status", "code", "uncertain"), [(429, 20429, False), (500, 20500, True), (503, 20503, True)]
)
def test_busy_and_failing_twilio_is_retried_later(
    twilio_api: TwilioEmulator, status: int, code: int, uncertain: bool
) -> None:
    twilio_api.fail("messages.create", status=status, code=code)
    with pytest.raises(SmsUnavailable) as unavailable:
        _gateway(twilio_api).send(SMS)
    assert unavailable.value.uncertain is uncertain
    # Too fast for Twilio: the sending lane backs off as a whole, not just this text.
    assert unavailable.value.throttled is (status == 429)


def test_wrong_credentials_are_a_configuration_problem_and_not_echoed(
    twilio_api: TwilioEmulator,
) -> None:
    with pytest.raises(SmsUnavailable) as unavailable:
        _gateway(twilio_api, token="wrong-secret-token").send(SMS)
    assert unavailable.value.configuration
    assert "wrong-secret-token" not in str(unavailable.value)


def test_a_dropped_answer_is_uncertain_and_found_afterwards(twilio_api: TwilioEmulator) -> None:
    gateway = _gateway(twilio_api)
    before = datetime.now(UTC) - timedelta(seconds=1)
    twilio_api.fail("messages.create", status=0, effect=True)
    with pytest.raises(SmsUnavailable) as unavailable:
        gateway.send(SMS)
    assert unavailable.value.uncertain
    [message] = twilio_api.sent
    found = gateway.find_sent(SMS, since=before, exclude=set())
    assert found is not None and found.sid == message["sid"]
    assert gateway.find_sent(SMS, since=before, exclude={message["sid"]}) is None


def test_older_or_different_messages_are_not_mistaken_for_the_lost_one(
    twilio_api: TwilioEmulator,
) -> None:
    now = datetime.now(UTC)
    twilio_api.seed_message(
        to=ALICE,
        from_=BUSINESS,
        body=SMS.body,
        direction="outbound-api",
        date_sent=now - timedelta(hours=1),
    )
    twilio_api.seed_message(
        to=ALICE, from_=BUSINESS, body="something else", direction="outbound-api"
    )
    assert (
        _gateway(twilio_api).find_sent(SMS, since=now - timedelta(minutes=2), exclude=set()) is None
    )


def test_an_rfc_9457_refusal_is_read_for_its_code(twilio_api: TwilioEmulator) -> None:
    problem = {
        "type": "https://www.twilio.com/docs/errors/21610",
        "title": "Attempt to send to unsubscribed recipient",
        "status": 400,
        "code": 21610,
        "detail": "The recipient has opted out",
    }
    twilio_api.fail("messages.create", status=400, body=problem)
    with pytest.raises(SmsRejected) as refused:
        _gateway(twilio_api).send(SMS)
    assert refused.value.code == 21610


def test_an_unreadable_success_is_uncertain(twilio_api: TwilioEmulator) -> None:
    # Twilio may have taken it: the text must be looked for, not sent again blindly.
    twilio_api.fail("messages.create", status=201, body="<html>gateway</html>")
    with pytest.raises(SmsUnavailable) as unavailable:
        _gateway(twilio_api).send(SMS)
    assert unavailable.value.uncertain


def test_media_urls_go_as_repeated_parameters(twilio_api: TwilioEmulator) -> None:
    urls = ("https://bridge.example.com/media/a", "https://bridge.example.com/media/b")
    _gateway(twilio_api).send(OutgoingSms(ALICE, BUSINESS, "pictures", media_urls=urls))
    [call] = [c for c in twilio_api.calls if c.kind == "messages.create"]
    assert list(params_media(call.params)) == list(urls)


def test_sending_and_reading_the_log_leave_twilios_generated_api_unloaded(
    twilio_api: TwilioEmulator,
) -> None:
    # The Account API's resource classes are ~90 modules and ~7 MiB for the process's life.
    script = f"""
import sys
from bridge.ports import OutgoingSms
from bridge.twilio_gateway import TwilioGateway
from bridge.twilio_log import TwilioMessageLog
account = dict(account_sid={ACCOUNT_SID!r}, auth_token={AUTH_TOKEN!r}, api_url={twilio_api.url!r})
TwilioGateway(**account, status_callback=None).send(OutgoingSms({ALICE!r}, {BUSINESS!r}, "hi"))
assert TwilioMessageLog(**account).between({ALICE!r}, {BUSINESS!r}, limit=50)
print(sorted(m for m in sys.modules if m.startswith("twilio.rest.api")))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_a_success_without_a_sid_is_uncertain(twilio_api: TwilioEmulator) -> None:
    twilio_api.fail("messages.create", status=201, body={"status": "queued", "num_media": "x"})
    with pytest.raises(SmsUnavailable) as unavailable:
        _gateway(twilio_api).send(SMS)
    assert unavailable.value.uncertain
