"""Twilio's part in the sandbox: a customer's text becomes a signed webhook; sends progress."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from twilio.request_validator import RequestValidator

from bridge.ids import E164
from bridge.phones import masked
from bridge.sandbox.emulators import TwilioEmulator
from bridge.sandbox.world import Journal

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
# The path a message takes after Twilio accepts it, one step per carrier tick.
_NEXT_STATUS = {"accepted": "queued", "queued": "sent", "sent": "delivered"}


class SandboxTwilio:
    """Delivers webhooks to the bridge exactly as Twilio would: form-encoded and signed."""

    def __init__(
        self,
        emulator: TwilioEmulator,
        *,
        business: E164,
        public_url: str,
        http: httpx.AsyncClient,
        journal: Journal,
    ) -> None:
        self.emulator = emulator
        self.business = business
        self._public_url = public_url.rstrip("/")
        self._http = http
        self._validator = RequestValidator(emulator.auth_token)
        self._journal = journal

    async def text(self, phone: E164, body: str) -> int:
        """The customer at `phone` texts the business; returns the bridge's HTTP status."""
        message = self.emulator.seed_message(to=self.business, from_=phone, body=body)
        params = {
            "ToCountry": "US",
            "ToState": "",
            "SmsMessageSid": message["sid"],
            "NumMedia": "0",
            "ToCity": "",
            "FromZip": "",
            "SmsSid": message["sid"],
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "US",
            "To": self.business,
            "ToZip": "",
            "NumSegments": message["num_segments"],
            "MessageSid": message["sid"],
            "AccountSid": self.emulator.account_sid,
            "From": phone,
            "ApiVersion": API_VERSION,
        }
        answer = await self._post(f"{self._public_url}/twilio/sms", params, "inbound SMS")
        log.info("sandbox text from %s: webhook answered %d", masked(phone), answer)
        return answer

    async def carrier_tick(self) -> None:
        """Move each outbound message one status on, and call its StatusCallback as Twilio does."""
        for message in self.emulator.messages():
            following = _NEXT_STATUS.get(str(message["status"]))
            if not message["direction"].startswith("outbound") or following is None:
                continue
            self.emulator.set_status(message["sid"], following)
            callback = message.get("status_callback")
            if callback:
                params = _status_params(message, following)
                await self._post(str(callback), params, f"status {following}")

    async def _post(self, url: str, params: dict[str, str], what: str) -> int:
        signature = self._validator.compute_signature(url, params)
        try:
            response = await self._http.post(
                url, data=params, headers={"X-Twilio-Signature": str(signature)}
            )
            status = response.status_code
        except httpx.HTTPError as exc:
            log.warning("sandbox could not reach the bridge: %s", type(exc).__name__)
            status = 0
        self._journal.append({"from": "Twilio", "what": what, "status": status})
        return status


def _status_params(message: dict[str, Any], status: str) -> dict[str, str]:
    params = {
        "SmsSid": str(message["sid"]),
        "SmsStatus": status,
        "MessageStatus": status,
        "To": str(message["to"]),
        "MessageSid": str(message["sid"]),
        "AccountSid": str(message["account_sid"]),
        "From": str(message["from"] or ""),
        "ApiVersion": API_VERSION,
    }
    if message.get("messaging_service_sid"):
        params["MessagingServiceSid"] = str(message["messaging_service_sid"])
    return params
