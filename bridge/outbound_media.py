"""An agent's files as MMS media: checked against what Twilio takes, served for it to fetch.

JPEG, PNG and GIF pictures are what MMS shows reliably, and Twilio resizes them for the
handset. Twilio also takes audio, video, vCard, calendar and PDF files, but passes them on
as they are: carriers often drop such files over 600 KB and some phones show only a link, so
the agent is told. Other types are refused. MMS reaches US and Canadian numbers only, from a
US or Canadian number; elsewhere the text goes without the files and the agent is told why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import phonenumbers
from sqlmodel import Session

from bridge.media import Fetched, MediaFetcher
from bridge.media_tokens import expiry, media_url, new_token
from bridge.ports import ServiceUnavailable
from store import media
from store.models import MediaItem, Message, OutboundSms

MMS_MAX_BYTES = 5 * 1024 * 1024
OTHER_MAX_BYTES = 600 * 1024
MAX_FILES = 10
RELIABLE = frozenset({"image/jpeg", "image/jpg", "image/png", "image/gif"})
PASSED_ON = frozenset(
    {
        "image/bmp",
        "image/tiff",
        "audio/mpeg",
        "audio/mp4",
        "audio/ogg",
        "audio/amr",
        "audio/3gpp",
        "video/mp4",
        "video/mpeg",
        "video/quicktime",
        "video/3gpp",
        "video/webm",
        "text/vcard",
        "text/x-vcard",
        "text/calendar",
        "application/pdf",
    }
)
MMS_REGIONS = frozenset({"US", "CA"})


@dataclass(frozen=True)
class SharedFile:
    """A file as the chat side describes it; `url` needs the bot's credentials."""

    file_id: str
    name: str
    mimetype: str
    size: int
    url: str


class FileSource(Protocol):
    """Where agents' files live (Slack in production); raises ChatUnavailable to retry."""

    def describe(self, file_id: str) -> SharedFile | None:
        """The file, or None when it is gone."""


class OutboundMedia:
    """Prepares a reply's files for Twilio and names the URLs it fetches them from."""

    def __init__(
        self, *, files: FileSource, fetcher: MediaFetcher, public_url: str, ttl_hours: int
    ) -> None:
        self._files = files
        self._fetcher = fetcher
        self._public_url = public_url
        self._ttl_hours = ttl_hours

    def prepare(self, session: Session, message: Message, now: datetime) -> list[str]:
        """Fetch and check each pending file; what the author must hear about, said once."""
        assert message.id is not None
        items = media.items_of(session, message_id=message.id, direction=media.OUTBOUND)
        pending = [i for i in items if i.state == media.PENDING]
        if not pending:
            return []
        media.forget_expired(session, now=now)
        route = mms_refusal(message.to_number, message.from_number)
        if not self._public_url.startswith(("https://", "http://")):
            route = "Twilio fetches files from PUBLIC_URL, which is not set; ask an admin."
        if route is not None:
            for item in pending:
                _settle(session, item, media.REFUSED, route, now)
            session.commit()
            return [f"The file was not sent: {route}"]
        notes: list[str] = []
        total = sum(i.size or 0 for i in items if i.state == media.DONE)
        for item in pending:
            note, total = self._one(session, item, total, now)
            if note:
                notes.append(note)
            session.commit()
        return notes

    def urls_for(self, session: Session, part: OutboundSms) -> tuple[str, ...]:
        """The media URLs that go with an SMS part: all of a reply's files, on its first."""
        if part.part != 0:
            return ()
        items = media.items_of(session, message_id=part.message_id, direction=media.OUTBOUND)
        ready = [i.token for i in items if i.state == media.DONE and i.token]
        return tuple(media_url(self._public_url, t) for t in ready[:MAX_FILES])

    def _one(self, session: Session, item: MediaItem, total: int, now: datetime) -> tuple[str, int]:
        shared = self._files.describe(item.slack_file_id or "")
        if shared is None:
            _settle(session, item, media.REFUSED, "it is no longer in Slack", now)
            return "A file was not sent: it is no longer in Slack.", total
        item.filename, item.content_type = shared.name[:200], shared.mimetype[:100]
        refusal = type_refusal(shared) or _count_refusal(item)
        if refusal is None and total + shared.size > MMS_MAX_BYTES:
            refusal = "together with the other files it is over MMS's 5 MB"
        if refusal is not None:
            _settle(session, item, media.REFUSED, refusal, now)
            return f"{shared.name} was not sent: {refusal}.", total
        fetched = self._fetcher.fetch(shared.url)
        if not isinstance(fetched, Fetched):
            if fetched.retry:
                raise ServiceUnavailable(f"file download from Slack: {fetched.reason}")
            _settle(session, item, media.FAILED, fetched.reason, now)
            return f"{shared.name} was not sent: {fetched.reason}.", total
        item.content, item.size = fetched.content, len(fetched.content)
        item.token, item.expires_at = new_token(), expiry(now, self._ttl_hours)
        _settle(session, item, media.DONE, None, now)
        return _fallback_note(shared), total + len(fetched.content)


def type_refusal(shared: SharedFile) -> str | None:
    """Why Twilio would not take this file by MMS, or None."""
    if shared.mimetype not in RELIABLE | PASSED_ON:
        return (
            f"MMS does not carry {shared.mimetype} files; send a JPEG, PNG or GIF picture "
            "(or a PDF, vCard, audio or video file)"
        )
    if shared.size > MMS_MAX_BYTES:
        return "it is larger than MMS's 5 MB"
    if shared.mimetype in PASSED_ON and shared.size > OTHER_MAX_BYTES:
        return "carriers drop files other than pictures over 600 KB"
    return None


def mms_refusal(to_number: str, from_number: str) -> str | None:
    """Why MMS cannot go between these numbers, or None."""
    to_region, from_region = _region(to_number), _region(from_number)
    if to_region not in MMS_REGIONS:
        where = f" ({to_region})" if to_region else ""
        return (
            f"MMS reaches only US and Canadian mobile numbers, and the customer's number is "
            f"not one{where}. The text went alone; share a link to the file instead."
        )
    if from_region not in MMS_REGIONS:
        return (
            "our sending number cannot send MMS (only US and Canadian numbers can). "
            "The text went alone; share a link to the file instead."
        )
    return None


def _count_refusal(item: MediaItem) -> str | None:
    if item.position >= MAX_FILES:
        return f"an MMS carries at most {MAX_FILES} files"
    return None


def _fallback_note(shared: SharedFile) -> str:
    if shared.mimetype in RELIABLE:
        return ""
    return (
        f"{shared.name} went as a {shared.mimetype} file, which Twilio passes on unconverted: "
        "some phones show it only as a link. JPEG, PNG and GIF pictures show reliably."
    )


def _region(number: str) -> str | None:
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    # Fictional and new numbers map to no region; their country code still names one.
    region = phonenumbers.region_code_for_number(parsed)
    region = region or phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    return str(region) if region and region != "ZZ" else None


def _settle(
    session: Session, item: MediaItem, state: str, reason: str | None, now: datetime
) -> None:
    item.state = state
    item.reason = reason[:500] if reason else None
    item.updated_at = now
    session.add(item)
