"""Showing a customer's MMS pictures in the thread: fetched from Twilio, uploaded to Slack."""

from __future__ import annotations

import logging
import mimetypes
from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from bridge.delivery import post_event_once
from bridge.ids import ChannelId, SlackTs
from bridge.media import Fetched, MediaFetcher
from bridge.ports import ChatSink, ServiceUnavailable
from store import media
from store.models import Conversation, DeliveryJob, MediaItem, Message

log = logging.getLogger(__name__)

# A download that fails this many times in a row (Twilio down, timeouts) is given up.
MAX_DOWNLOAD_ATTEMPTS = 5
_EXTENSIONS = {"image/jpeg": ".jpg", "text/vcard": ".vcf", "text/x-vcard": ".vcf"}


class FileSink(Protocol):
    """Where files are shown in a thread (Slack's external upload in production)."""

    def upload(
        self, channel: ChannelId, thread_ts: SlackTs, *, filename: str, title: str, content: bytes
    ) -> str:
        """Upload and share into the thread; the file's ID. Raises ChatUnavailable."""


class MediaUploader:
    """Runs UPLOAD_MEDIA jobs: every picture of a text, then one note for those that failed."""

    def __init__(self, *, fetcher: MediaFetcher, files: FileSink, sink: ChatSink) -> None:
        self._fetcher = fetcher
        self._files = files
        self._sink = sink

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        """Upload what is pending; raise to be retried when Slack or Twilio may recover."""
        message = session.get(Message, job.message_id)
        conversation = session.get(Conversation, job.conversation_id)
        if message is None or conversation is None or message.id is None:
            return
        if not conversation.parent_ts:
            raise ServiceUnavailable("waiting for the text's thread to be posted")
        items = media.items_of(session, message_id=message.id, direction=media.INBOUND)
        for item in items:
            if item.state == media.PENDING:
                self._one(session, item, message, conversation, job, now)
        problems = [i for i in items if i.state in (media.REFUSED, media.FAILED)]
        if problems:
            text = _problem_note(problems)
            post_event_once(self._sink, conversation, f"media:{message.id}", text, job)

    def _one(
        self,
        session: Session,
        item: MediaItem,
        message: Message,
        conversation: Conversation,
        job: DeliveryJob,
        now: datetime,
    ) -> None:
        fetched = self._fetcher.fetch(item.source_url or "")
        if not isinstance(fetched, Fetched):
            if fetched.suspicious:
                log.warning(
                    "suspicious media URL in %s not fetched: %s", message.twilio_sid, fetched.reason
                )
            if fetched.retry and job.attempts + 1 < MAX_DOWNLOAD_ATTEMPTS:
                raise ServiceUnavailable(f"media download: {fetched.reason}")
            _settle(session, item, media.REFUSED if fetched.suspicious else media.FAILED, now)
            item.reason = fetched.reason[:500]
            session.commit()
            return
        content_type = item.content_type or fetched.content_type
        name = _filename(message, item, content_type)
        title = "Picture from the customer" if content_type.startswith("image/") else name
        assert conversation.parent_ts is not None
        file_id = self._files.upload(
            ChannelId(conversation.channel),
            SlackTs(conversation.parent_ts),
            filename=name,
            title=title,
            content=fetched.content,
        )
        item.slack_file_id = file_id[:32]
        item.size = len(fetched.content)
        item.filename = name
        _settle(session, item, media.DONE, now)
        session.commit()


def _settle(session: Session, item: MediaItem, state: str, now: datetime) -> None:
    item.state = state
    item.updated_at = now
    session.add(item)


def _filename(message: Message, item: MediaItem, content_type: str) -> str:
    extension = _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ""
    return f"mms-{(message.twilio_sid or 'media')[-8:]}-{item.position + 1}{extension}"


def _problem_note(problems: list[MediaItem]) -> str:
    reasons = sorted({p.reason or "it could not be fetched" for p in problems})
    noun = "file" if len(problems) == 1 else f"{len(problems)} files"
    return f"The customer sent a {noun} that cannot be shown here: {'; '.join(reasons)}."
