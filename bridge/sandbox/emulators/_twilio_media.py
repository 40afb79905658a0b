"""Twilio's media and callbacks: the CDN redirect, fetching outbound MediaUrl, status posts."""

from __future__ import annotations

import copy
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

from twilio.request_validator import RequestValidator

from bridge.sandbox.emulators._server import Response
from bridge.sandbox.emulators._twilio_resources import API_VERSION, new_sid

CDN_PREFIX = "/mms-media/"
# Twilio fetches MediaUrl with a GET; it gives up on a file over the MMS cap.
_FETCH_LIMIT = 5 * 1024 * 1024 + 1


class TwilioMediaMixin:
    """Mixed into TwilioEmulator, which provides the lock, origin, messages and media."""

    _lock: Any
    _messages: dict[str, Any]
    _media: dict[tuple[str, str], tuple[bytes, dict[str, Any]]]
    account_sid: str
    auth_token: str

    if TYPE_CHECKING:

        @property
        def origin(self) -> str:
            """Provided by EmulatorServer."""

        def add_media(self, message_sid: str, content: bytes, content_type: str) -> str:
            """Provided by TwilioEmulator."""

    def _init_media(self) -> None:
        # Like Twilio: the media URL (authenticated) answers with a redirect to a short-lived,
        # unauthenticated CDN URL. Tests may point a redirect elsewhere (`media_redirects`).
        self.media_redirects = True
        self.redirect_overrides: dict[str, str] = {}
        self._cdn: dict[str, tuple[str, str]] = {}
        self.fetch_threads: list[threading.Thread] = []

    def _media_redirect(self, args: list[str]) -> Response | None:
        """A 307 to the CDN for a known media file, or None to answer it directly."""
        if not self.media_redirects:
            return None
        key = (args[0], args[1])
        if key not in self._media:
            return None
        location = self.redirect_overrides.get(args[1])
        if location is None:
            token = secrets.token_hex(16)
            self._cdn[token] = key
            location = f"{self.origin}{CDN_PREFIX}{token}?Expires=300&Signature=emulated"
        return Response(307, b"", {"Location": location})

    def _cdn_answer(self, path: str) -> Response:
        """The CDN serves the bytes without credentials while the token is known."""
        key = self._cdn.get(path.removeprefix(CDN_PREFIX))
        found = self._media.get(key) if key else None
        if found is None:
            return Response.text(403, "AccessDenied", "application/xml")
        return Response(200, found[0], {"Content-Type": found[1]["content_type"]})

    # -- outbound MediaUrl ----------------------------------------------------------------------

    def _fetch_media_later(self, sid: str, urls: list[str]) -> None:
        """Fetch each MediaUrl of a new message in the background, as Twilio does."""
        if not urls:
            return
        thread = threading.Thread(target=self._fetch_media, args=(sid, urls), daemon=True)
        self.fetch_threads.append(thread)
        thread.start()

    def _fetch_media(self, sid: str, urls: list[str]) -> None:
        fetched = []
        for url in urls:
            record: dict[str, Any] = {"url": url}
            try:
                with urllib.request.urlopen(url, timeout=10) as answer:
                    record.update(
                        status=answer.status,
                        content_type=answer.headers.get("Content-Type", ""),
                        content=answer.read(_FETCH_LIMIT),
                    )
            except urllib.error.HTTPError as exc:
                record.update(status=exc.code, content_type="", content=b"")
            except OSError as exc:
                record.update(status=0, content_type="", content=b"", error=repr(exc))
            fetched.append(record)
        with self._lock:
            stored = self._messages.get(sid)
            if stored is not None:
                stored.extras["media_fetched"] = fetched
                if any(r["status"] != 200 for r in fetched):
                    stored.resource.update(status="failed", error_code=11200)

    # -- test-side helpers ----------------------------------------------------------------------

    def media_fetched(self, sid: str) -> list[dict[str, Any]] | None:
        """What Twilio got from each MediaUrl of message `sid` (None: not fetched yet)."""
        with self._lock:
            stored = self._messages.get(sid)
            found = stored.extras.get("media_fetched") if stored else None
            return copy.deepcopy(found)

    def inbound_mms(
        self, *, from_: str, to: str, body: str, media: list[tuple[bytes, str]]
    ) -> dict[str, str]:
        """Store an inbound MMS with its media; the webhook parameters Twilio would post."""
        sid = new_sid("MM")
        params = {
            "MessageSid": sid,
            "SmsSid": sid,
            "SmsMessageSid": sid,
            "AccountSid": self.account_sid,
            "MessagingServiceSid": "",
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": str(len(media)),
            "NumSegments": "1",
            "SmsStatus": "received",
            "ApiVersion": API_VERSION,
        }
        for n, (content, content_type) in enumerate(media):
            params[f"MediaUrl{n}"] = self.add_media(sid, content, content_type)
            params[f"MediaContentType{n}"] = content_type
        return params

    def report_status(self, sid: str, status: str, error_code: int | None = None) -> int:
        """Move a message to `status` and POST the signed callback to its StatusCallback.

        Returns the HTTP status the callback got (0 when the message has no callback URL).
        """
        with self._lock:
            stored = self._messages[sid]
            stored.resource.update(status=status, error_code=error_code)
            url = stored.extras.get("status_callback")
            resource = copy.deepcopy(stored.resource)
        if not url:
            return 0
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": resource["from"] or "",
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": resource["to"],
        }
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        signature = RequestValidator(self.auth_token).compute_signature(url, params)
        request = urllib.request.Request(
            url,
            data=urllib.parse.urlencode(params).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": str(signature),
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)
