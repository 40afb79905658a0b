"""Queuing the pictures of an inbound MMS: stored with the text, uploaded after its post."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from store import jobs
from store.media import add_inbound
from store.models import Conversation, Message

UPLOAD_MEDIA = "upload_media"
# Their own lane: a slow or retried download never holds up the contact's later texts.
MEDIA_LANE = "media"


def queue_media_upload(
    session: Session,
    *,
    message: Message,
    conversation: Conversation | None,
    media: Sequence[tuple[str, str]],
    at: datetime,
) -> None:
    """Keep the media URLs and queue their upload (which waits for the text's thread)."""
    add_inbound(session, message=message, media=media, at=at)
    if conversation is not None and message.id is not None and conversation.id is not None:
        jobs.enqueue(
            session,
            kind=UPLOAD_MEDIA,
            contact_id=conversation.contact_id,
            channel=conversation.channel,
            conversation_id=conversation.id,
            message_id=message.id,
            lane=MEDIA_LANE,
            at=at,
        )
