"""Response-time reminders: one post in the thread when a customer's wait passes the SLA."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session

from bridge.config import Settings
from bridge.ids import ChannelId, SlackTs
from bridge.inbox_cards import Reminder
from bridge.ports import ChatPost, ChatSink, ChatUnavailable
from store import jobs
from store.models import Conversation, DeliveryJob, InboxEntry

log = logging.getLogger(__name__)


def reminder_due(entry: InboxEntry | None, *, sla: timedelta, now: datetime) -> bool:
    """Whether a wait has passed the SLA without its reminder yet."""
    if entry is None or entry.waiting_since is None or entry.resolved_at is not None:
        return False
    if entry.reminded_for is not None and entry.reminded_for >= entry.waiting_since:
        return False  # this wait was reminded already
    return now - entry.waiting_since >= sla


class Reminders:
    """Runs SLA_CHECK jobs (each queued for when its wait would pass the SLA)."""

    def __init__(self, *, settings: Settings, sink: ChatSink) -> None:
        self._sla = timedelta(minutes=settings.response_sla_minutes)
        self._mention = settings.sla_mention
        self._sink = sink

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        """Remind once for the wait, unless an authorised reply or a resolve ended it."""
        conversation = session.get(Conversation, job.conversation_id)
        entry = session.get(InboxEntry, job.conversation_id)
        if conversation is None or entry is None or not reminder_due(entry, sla=self._sla, now=now):
            return
        if not conversation.parent_ts:
            raise ChatUnavailable("the thread is not posted yet")
        assert entry.waiting_since is not None
        reminder = Reminder(
            entry.waiting_since,
            int(self._sla.total_seconds() // 60),
            entry.claimed_by or self._mention,
        )
        channel, thread_ts = ChannelId(conversation.channel), SlackTs(conversation.parent_ts)
        key = f"sla:{conversation.id}:{int(entry.waiting_since.timestamp())}"
        # An earlier attempt may have posted it and lost only the answer.
        if not (
            job.attempts
            and self._sink.find(channel, key, thread_ts=thread_ts, since=entry.waiting_since)
        ):
            self._sink.post(ChatPost(channel, reminder, key, thread_ts))
        entry.reminded_for = entry.waiting_since
        entry.updated_at = now
        session.add(entry)
        jobs.enqueue_in_thread(session, kind="update_card", conversation=conversation, at=now)
        log.info("reminded conversation %s: unanswered past the SLA", conversation.id)
