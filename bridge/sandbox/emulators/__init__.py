"""Local real-HTTP emulators of the Slack Web API and the Twilio REST API for tests."""

from tests.emulators._server import Call
from tests.emulators.slack_api import SlackEmulator
from tests.emulators.twilio_api import TwilioEmulator

__all__ = ["Call", "SlackEmulator", "TwilioEmulator"]
