"""A new thread's beginning: its header (linking the conversation it continues) and history."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from bridge.delivery import Delivery
from bridge.history import MessageLog, earlier_messages
from bridge.ids import ChannelId, SlackTs
from bridge.ports import ChatPost, ChatSink
from store import inbox
from store.models import Contact, Conversation, DeliveryJob, InboxEntry


class ThreadLinks(Protocol):
    """Links to chat threads; None when the chat service cannot give one now."""

    def link(self, channel: str, ts: str) -> str | None:
        """The permalink of a message."""


class ThreadIntro:
    """Runs THREAD_INTRO jobs, queued ahead of a new conversation's first text."""

    def __init__(
        self, *, delivery: Delivery, sink: ChatSink, log: MessageLog, links: ThreadLinks
    ) -> None:
        self._delivery = delivery
        self._sink = sink
        self._log = log
        self._links = links

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        """Header first (with the earlier thread's link), then the transcript, each once."""
        conversation = session.get(Conversation, job.conversation_id)
        contact = session.get(Contact, job.contact_id)
        if conversation is None or contact is None or conversation.id is None:
            return
        entry = inbox.entry_of(session, conversation=conversation, at=now)
        if entry.previous_id is not None:
            self._link_previous(session, entry.previous_id)
        transcript = earlier_messages(
            session, conversation=conversation, contact=contact, log_=self._log
        )
        if transcript is not None and not transcript.lines:
            entry.history_note = transcript.note  # nothing to show: the header says why
            transcript = None
        session.add(entry)
        session.commit()
        self._delivery.ensure_thread(session, conversation, contact, now)
        if transcript is None or not conversation.parent_ts:
            return
        channel, thread_ts = ChannelId(conversation.channel), SlackTs(conversation.parent_ts)
        key = f"history:{conversation.id}"
        if job.attempts and self._sink.find(
            channel, key, thread_ts=thread_ts, since=job.created_at
        ):
            return
        self._sink.post(ChatPost(channel, transcript, key, thread_ts))

    def _link_previous(self, session: Session, previous_id: int) -> None:
        previous = session.get(InboxEntry, previous_id)
        earlier = session.get(Conversation, previous_id)
        if previous is None or earlier is None or previous.permalink or not earlier.parent_ts:
            return
        link = self._links.link(earlier.channel, earlier.parent_ts)
        if link:
            inbox.save_permalink(session, conversation_id=previous_id, link=link)
