"""The emulators now live in the product (`bridge.sandbox.emulators`); tests import them here.

Submodules are aliased too, so `tests.emulators._server` and friends stay the same objects.
"""

from __future__ import annotations

import sys

from bridge.sandbox.emulators import (
    Call,
    SlackEmulator,
    TwilioEmulator,
    _server,
    _slack_methods,
    _slack_store,
    _twilio_ops,
    _twilio_resources,
    slack_api,
    twilio_api,
)

for _module in (
    _server,
    _slack_methods,
    _slack_store,
    _twilio_ops,
    _twilio_resources,
    slack_api,
    twilio_api,
):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module

__all__ = ["Call", "SlackEmulator", "TwilioEmulator"]
