"""Digits that are not 0-9 ('²' counts as a digit to str.isdigit, not to int): never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.blocks import CANCEL_HELD, CONSENT_HISTORY, SEND_HELD_NOW
from tests.conftest import CHANNEL
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.live import ADMIN, Bridge, bridges
from tests.slack_events import ephemeral_press


@pytest.fixture
def bridge(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> Iterator[Bridge]:
    with bridges(tmp_path, slack, twilio_api, AUTORESPOND="off") as boot:
        yield boot()


def test_superscript_digits_in_webhooks_and_buttons_are_refused_or_ignored(bridge: Bridge) -> None:
    thread = bridge.thread()
    inbound = bridge.phone.params(77, "a picture?", "+14155550100", NumMedia="²")
    assert bridge.phone.send(inbound).status_code == 200
    status = bridge.phone.params(78, "", "+14155550100", MessageStatus="sent", ErrorCode="²")
    assert bridge.phone.send(status, path="/twilio/status").status_code in (200, 204)
    for action in (SEND_HELD_NOW, CANCEL_HELD, CONSENT_HISTORY):
        press = ephemeral_press(ADMIN, action, "²", channel=CHANNEL, thread_ts=thread)
        assert bridge.events.interaction(press).status_code == 200
