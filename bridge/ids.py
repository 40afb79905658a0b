"""Typed identifiers that cross the Slack/Twilio boundary."""

from __future__ import annotations

from typing import NewType

E164 = NewType("E164", str)
ChannelId = NewType("ChannelId", str)
SlackTs = NewType("SlackTs", str)
MessageSid = NewType("MessageSid", str)
