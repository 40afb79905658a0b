"""Twilio's message log between a contact and a business number (the Messages list API)."""

from __future__ import annotations

from datetime import UTC, datetime

from twilio.base.exceptions import TwilioException

from bridge.history import LoggedSms
from bridge.ports import ServiceUnavailable
from bridge.twilio_messages import Messages

# A new thread waits for this read: a slow Twilio costs the history, not the conversation.
LOG_TIMEOUT_SECONDS = 5.0


class TwilioMessageLog:
    """Implements the history's MessageLog with `messages.list` filtered by To and From."""

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        api_url: str,
        timeout: float = LOG_TIMEOUT_SECONDS,
    ) -> None:
        self._messages = Messages.at(
            account_sid=account_sid, auth_token=auth_token, api_url=api_url, timeout=timeout
        )

    def between(self, contact: str, business: str, *, limit: int) -> list[LoggedSms]:
        """The latest `limit` messages each way, newest first; raises ServiceUnavailable."""
        found: list[LoggedSms] = []
        try:
            for inbound, sender, to in ((True, contact, business), (False, business, contact)):
                for m in self._messages.list(from_=sender, to=to, limit=limit):
                    at = m.date_sent or m.date_created or datetime.now(UTC)
                    found.append(
                        LoggedSms(
                            sid=m.sid,
                            inbound=inbound,
                            body=m.body,
                            at=at,
                            num_media=m.num_media,
                        )
                    )
        except (OSError, TwilioException) as exc:
            raise ServiceUnavailable(f"Twilio's message log: {type(exc).__name__}") from None
        return sorted(found, key=lambda sms: sms.at, reverse=True)
