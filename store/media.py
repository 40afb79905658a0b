"""Media items: the pictures of inbound texts and the files of agents' replies."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from store.models import MediaItem, Message

INBOUND, OUTBOUND = "inbound", "outbound"
PENDING, DONE, REFUSED, FAILED = "pending", "done", "refused", "failed"


def add_inbound(
    session: Session, *, message: Message, media: Sequence[tuple[str, str]], at: datetime
) -> None:
    """The (URL, content type) pairs Twilio gave for an MMS, in its order."""
    assert message.id is not None
    for position, (url, content_type) in enumerate(media):
        session.add(
            MediaItem(
                message_id=message.id,
                direction=INBOUND,
                position=position,
                source_url=url,
                content_type=content_type[:100] or None,
                created_at=at,
                updated_at=at,
            )
        )


def add_outbound(
    session: Session, *, message: Message, file_ids: Sequence[str], at: datetime
) -> None:
    """The Slack files an agent shared with a reply, in the order Slack listed them."""
    assert message.id is not None
    for position, file_id in enumerate(file_ids):
        session.add(
            MediaItem(
                message_id=message.id,
                direction=OUTBOUND,
                position=position,
                slack_file_id=file_id[:32],
                created_at=at,
                updated_at=at,
            )
        )


def items_of(session: Session, *, message_id: int, direction: str) -> list[MediaItem]:
    """A message's media in one direction, in order."""
    query = (
        select(MediaItem)
        .where(MediaItem.message_id == message_id, MediaItem.direction == direction)
        .order_by(col(MediaItem.position))
    )
    return list(session.exec(query))


def uploaded_by_us(session: Session, *, file_ids: Sequence[str]) -> bool:
    """True when every one of these Slack files is a customer's picture we uploaded."""
    if not file_ids:
        return False
    query = select(MediaItem.slack_file_id).where(
        MediaItem.direction == INBOUND, col(MediaItem.slack_file_id).in_(list(file_ids))
    )
    return set(session.exec(query)) >= set(file_ids)


def by_token(session: Session, *, token: str) -> MediaItem | None:
    """The outbound item served under `token`, whatever its expiry."""
    return session.exec(select(MediaItem).where(MediaItem.token == token)).first()


def forget_expired(session: Session, *, now: datetime) -> int:
    """Drop the bytes of files whose link has expired: Twilio has long fetched them."""
    result = session.execute(
        update(MediaItem)
        .where(col(MediaItem.expires_at) <= now, col(MediaItem.content).is_not(None))
        .values(content=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
