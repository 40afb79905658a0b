"""The thread's note that a number floods (a Slack-lane job queued with its first text over)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bridge.delivery import post_event_once
from bridge.flood import flood_note
from bridge.ports import ChatSink
from store.models import Conversation, DeliveryJob


class FloodNotice:
    """Runs FLOOD_NOTE jobs: the thread's note that a number floods."""

    def __init__(self, *, sink: ChatSink, limit: int) -> None:
        self._sink = sink
        self._limit = limit

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        """Post the note once, into the conversation's thread."""
        conversation = session.get(Conversation, job.conversation_id)
        if conversation is None or conversation.parent_ts is None:
            return
        post_event_once(self._sink, conversation, f"flood:{job.id}", flood_note(self._limit), job)
