"""A new thread's beginning: its header links the conversation it continues; then history."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlmodel import Session

from bridge.history import MessageLog, earlier_messages
from bridge.ids import ChannelId, SlackTs
from bridge.inbox import link_previous
from bridge.inbox_cards import Transcript
from bridge.ports import ChatPost, ChatSink
from store import inbox
from store.models import Contact, Conversation, InboxEntry


class ThreadLinks(Protocol):
    """Links to chat threads; None when the chat service cannot give one now."""

    def link(self, channel: str, ts: str) -> str | None:
        """The permalink of a message."""


class ThreadIntro:
    """Called by the delivery around posting a thread's header (bridge.delivery)."""

    def __init__(self, *, sink: ChatSink, log: MessageLog, links: ThreadLinks) -> None:
        self._sink = sink
        self._log = log
        self._links = links
        # Transcripts read for a header just posted, by conversation: posted right after it.
        self._ready: dict[int, Transcript] = {}

    def before_header(
        self, session: Session, conversation: Conversation, contact: Contact, now: datetime
    ) -> None:
        """Link the earlier thread and read the history, so the header can say what it has."""
        if conversation.id is None:
            return
        entry = link_previous(session, conversation=conversation, at=now)
        if entry.previous_id is not None:
            self._link_previous(session, entry.previous_id)
        transcript = earlier_messages(
            session, conversation=conversation, contact=contact, log_=self._log
        )
        if transcript is not None and transcript.lines:
            self._ready[conversation.id] = transcript
            entry.history_due = True
        elif transcript is not None:
            entry.history_note = transcript.note  # nothing to show: the header says why
        session.add(entry)
        session.commit()

    def after_header(
        self, session: Session, conversation: Conversation, contact: Contact, now: datetime
    ) -> None:
        """Post the transcript the header announced, once."""
        if conversation.id is None or not conversation.parent_ts:
            return
        entry = session.get(InboxEntry, conversation.id)
        if entry is None or not entry.history_due:
            return
        transcript = self._ready.pop(conversation.id, None)
        channel, thread_ts = ChannelId(conversation.channel), SlackTs(conversation.parent_ts)
        key = f"history:{conversation.id}"
        if transcript is None:
            # A retry, here or in another process: an earlier attempt may have posted it.
            found = self._sink.find(channel, key, thread_ts=thread_ts, since=entry.updated_at)
            if not found:
                transcript = earlier_messages(
                    session, conversation=conversation, contact=contact, log_=self._log
                )
        if transcript is not None and transcript.lines:
            self._sink.post(ChatPost(channel, transcript, key, thread_ts))
        entry.history_due = False
        session.add(entry)
        session.commit()

    def _link_previous(self, session: Session, previous_id: int) -> None:
        previous = session.get(InboxEntry, previous_id)
        earlier = session.get(Conversation, previous_id)
        if previous is None or earlier is None or previous.permalink or not earlier.parent_ts:
            return
        link = self._links.link(earlier.channel, earlier.parent_ts)
        if link:
            inbox.save_permalink(session, conversation_id=previous_id, link=link)
