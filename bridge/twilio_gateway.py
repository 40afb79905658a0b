"""The SMS gateway over Twilio's Messages API: sending, and finding what a lost answer sent."""

from __future__ import annotations

import logging
from datetime import datetime

from twilio.base.exceptions import TwilioException, TwilioRestException

from bridge.ports import OutgoingSms, SentSms, SmsRejected, SmsUnavailable
from bridge.twilio_messages import Messages

log = logging.getLogger(__name__)

# Twilio answers in well under a second; a call this slow is treated as lost and reconciled.
HTTP_TIMEOUT_SECONDS = 15.0
# Twilio codes that mean our account or credentials are wrong, not this message.
_CONFIGURATION_CODES = frozenset({20003, 20005, 20008, 20404})
_RECENT_MESSAGES = 50


class TwilioGateway:
    """Implements the domain's SmsGateway with the twilio client."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        api_url: str,
        status_callback: str | None,
        timeout: float = HTTP_TIMEOUT_SECONDS,
    ) -> None:
        self._messages = Messages.at(
            account_sid=account_sid, auth_token=auth_token, api_url=api_url, timeout=timeout
        )
        # Sends are paced per number by the delivery worker (TWILIO_MPS, shared by processes).
        self._status_callback = status_callback

    def send(self, sms: OutgoingSms) -> SentSms:
        """Messages.create from the business number (through the Messaging Service if set)."""
        try:
            # Twilio takes both a number and a service: the service's features, sent from
            # the number they texted.
            message = self._messages.create(
                to=sms.to,
                body=sms.body,
                from_=sms.sender,
                messaging_service_sid=sms.service or None,
                status_callback=self._status_callback,
                media_url=list(sms.media_urls),
            )
        except TwilioRestException as exc:
            raise _classify(exc) from None
        except (OSError, TwilioException) as exc:
            # Timeouts and dropped connections: Twilio may or may not have taken it.
            raise SmsUnavailable(
                f"Twilio unreachable: {type(exc).__name__}", uncertain=True
            ) from None
        return SentSms(sid=message.sid, status=message.status)

    def find_sent(self, sms: OutgoingSms, *, since: datetime, exclude: set[str]) -> SentSms | None:
        """The earliest recent message to the contact with this body that we have not recorded.

        Twilio's Messages API has no idempotency key, so after an unanswered attempt this is
        how we learn whether it went. Filtering on DateSent would miss queued messages (they
        have none yet), so the newest messages between the two numbers are read instead.
        """
        try:
            recent = self._messages.list(to=sms.to, from_=sms.sender, limit=_RECENT_MESSAGES)
        except TwilioRestException as exc:
            raise _classify(exc) from None
        except (OSError, TwilioException) as exc:
            raise SmsUnavailable(f"Twilio unreachable: {type(exc).__name__}") from None
        matches = [
            m
            for m in recent
            if m.body == sms.body
            and m.sid not in exclude
            and m.date_created is not None
            and m.date_created >= since.replace(microsecond=0)
        ]
        if not matches:
            return None
        first = min(matches, key=lambda m: m.date_created or since)
        return SentSms(sid=first.sid, status=first.status)


def _classify(exc: TwilioRestException) -> SmsUnavailable | SmsRejected:
    status, code = exc.status, exc.code
    if status == 429 or code == 20429:
        # Past the account's concurrency: every send from us backs off, exponentially.
        return SmsUnavailable(f"Twilio is busy ({code or status})", throttled=True)
    if status >= 500:
        return SmsUnavailable(f"Twilio answered HTTP {status}", uncertain=True)
    if status in (401, 403) or code in _CONFIGURATION_CODES:
        return SmsUnavailable(f"Twilio refused our credentials ({code})", configuration=True)
    # The message text from Twilio may quote the number: kept for the thread, not the logs.
    return SmsRejected(code, str(exc.msg or ""))
