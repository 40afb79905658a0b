"""Queuing the pictures of an inbound MMS: stored with the text, uploaded after its post."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from store import jobs
from store.media import add_inbound
from store.models import Conversation, Message

UPLOAD_MEDIA = "upload_media"


def queue_media_upload(
    session: Session,
    *,
    message: Message,
    conversation: Conversation | None,
    media: Sequence[tuple[str, str]],
    at: datetime,
) -> None:
    """Keep the media URLs; the upload job runs after the text's post, in the same lane."""
    add_inbound(session, message=message, media=media, at=at)
    if conversation is not None and message.id is not None:
        jobs.enqueue_in_thread(
            session, kind=UPLOAD_MEDIA, conversation=conversation, message_id=message.id, at=at
        )
