"""ROUTES: a contact's thread lives in the channel of the number they texted; replies go from it."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import BUSINESS, CHANNEL
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.inbox_helpers import inbox_bridge
from tests.live import ADMIN, ALICE

SECOND_NUMBER, SECOND_CHANNEL = "+15550002222", "C0SECOND"
BOB = "+14155550101"


def test_two_numbers_two_channels_and_replies_from_the_number_texted(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> None:
    routes = f"{BUSINESS}={CHANNEL},{SECOND_NUMBER}={SECOND_CHANNEL}"
    env = {"ROUTES": routes, "AUTORESPOND": "off", "OPT_IN_TEXT": ""}
    with inbox_bridge(tmp_path, slack, twilio_api, clock=None, **env) as bridge:
        bridge.text("to the first line", sender=ALICE)
        bridge.text("to the second line", sender=BOB, To=SECOND_NUMBER)
        bridge.text("START", sender=BOB, To=SECOND_NUMBER)
        slack.wait_for(lambda: len(slack.top_level(SECOND_CHANNEL)) == 1, 10)
        slack.wait_for(lambda: len(slack.top_level(CHANNEL)) == 1, 10)
        [first] = slack.top_level(CHANNEL)
        [second] = slack.top_level(SECOND_CHANNEL)
        slack.wait_for(lambda: len(slack.thread(SECOND_CHANNEL, second["ts"])) == 2, 10)
        assert [m["text"] for m in slack.thread(CHANNEL, first["ts"])] == ["to the first line"]
        assert slack.thread(SECOND_CHANNEL, second["ts"])[0]["text"] == "to the second line"
        _, answer = bridge.events.reply(slack, SECOND_CHANNEL, second["ts"], ADMIN, "Hi Bob")
        assert answer.status_code == 200
        [sms] = bridge.wait_sent(1)
        assert (sms["to"], sms["from"], sms["body"]) == (BOB, SECOND_NUMBER, "Hi Bob")


def test_a_number_outside_routes_uses_slack_channel(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> None:
    env = {"ROUTES": f"{SECOND_NUMBER}={SECOND_CHANNEL}", "AUTORESPOND": "off"}
    with inbox_bridge(tmp_path, slack, twilio_api, clock=None, **env) as bridge:
        bridge.text("to the default line", sender=ALICE)
        slack.wait_for(lambda: len(slack.top_level(CHANNEL)) == 1, 10)
        assert slack.top_level(SECOND_CHANNEL) == []
