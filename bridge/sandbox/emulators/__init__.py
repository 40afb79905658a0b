"""Local real-HTTP emulators of the Slack Web API and the Twilio REST API (tests, sandbox)."""

from bridge.sandbox.emulators._server import Call
from bridge.sandbox.emulators.slack_api import SlackEmulator
from bridge.sandbox.emulators.twilio_api import TwilioEmulator

__all__ = ["Call", "SlackEmulator", "TwilioEmulator"]
