"""Running one delivery job: what to post to the chat side, exactly once."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from sqlmodel import Session, select

from bridge.cards import ContactCard, CustomerText, PostContent, ThreadEvent
from bridge.consent import Consent, describe_source, looks_like_opt_out
from bridge.contact_card import card_for
from bridge.flood import (
    Backlog,
    backlogged,
    combined,
    combined_earlier,
    flood_at,
    in_attempted_batch,
    settle,
    waiting_texts,
)
from bridge.ids import ChannelId, SlackTs
from bridge.inbound import CONSENT_EVENT, POST_EVENT, POST_TEXT, UPDATE_CARD
from bridge.inbox import broadcasts, thread_state
from bridge.ports import ChatPost, ChatSink, ChatUnavailable
from bridge.quiet_hours import QuietPolicy
from store import jobs
from store.contacts import latest_consent_change
from store.models import ConsentChange, Contact, Conversation, DeliveryJob, Message


class ThreadOpening(Protocol):
    """What else a new thread begins with (the inbox: the earlier thread's link, history)."""

    def before_header(
        self, session: Session, conversation: Conversation, contact: Contact, now: datetime
    ) -> None:
        """Runs before a thread's header is posted."""

    def after_header(
        self, session: Session, conversation: Conversation, contact: Contact, now: datetime
    ) -> None:
        """Runs after, and before the text that opened the thread is posted."""


# How far before a row's creation to look for a post whose answer we lost.
_RECONCILE_MARGIN = timedelta(minutes=5)


class Delivery:
    """Carries out jobs against a chat sink; raises ChatUnavailable to be retried."""

    def __init__(
        self,
        *,
        sink: ChatSink,
        default_zone: str,
        policy: QuietPolicy | None = None,
        opening: ThreadOpening | None = None,
        flood_limit: int | None = None,
        backlog: Backlog | None = None,
    ) -> None:
        """`backlog`: when a channel counts as behind Slack's budget (texts then combine)."""
        self._backlog = backlog
        # Channels found behind, until they catch up (each process judges for itself).
        self._behind: set[str] = set()
        self._policy = policy
        self._flood_limit = flood_limit
        self._sink = sink
        self._default_zone = default_zone
        self._opening = opening

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        """Do the job's work; the caller commits and marks it done."""
        # A post commits two or three times (its attempt before the call, its ts after): what
        # this job loaded stays loaded, rather than read again after each commit. Only this
        # job's worker writes these rows' Slack columns (a contact's jobs run one at a time).
        session.expire_on_commit = False
        conversation = session.get(Conversation, job.conversation_id)
        contact = session.get(Contact, job.contact_id)
        if conversation is None or contact is None:
            return
        if job.kind == POST_TEXT:
            self._ensure_thread(session, conversation, contact, now)
            message = session.get(Message, job.message_id)
            if message is not None and (
                self._floods(session, message)
                or in_attempted_batch(session, message)
                or self._backlogged(session, conversation, message, now)
            ):
                self._post_waiting(session, conversation, contact, message, now)
            elif message is not None:
                flag = contact.consent != Consent.UNSUBSCRIBED and looks_like_opt_out(message.body)
                content = CustomerText(
                    message.body,
                    message.created_at,
                    message.num_media,
                    possible_opt_out_of=message.id if flag else None,
                )
                bump = broadcasts(
                    session, conversation_id=job.conversation_id or 0, message_id=message.id
                )
                self._post_message(session, conversation, message, content, now, broadcast=bump)
        elif job.kind == POST_EVENT and conversation.parent_ts:
            message = session.get(Message, job.message_id)
            if message is not None:
                event = ThreadEvent(_event_text(session, message), message.created_at)
                self._post_message(session, conversation, message, event, now)
            self._update_card(session, conversation, contact, now)
        elif job.kind == UPDATE_CARD and conversation.parent_ts:
            self._update_card(session, conversation, contact, now)
        elif job.kind == CONSENT_EVENT and conversation.parent_ts:
            change = session.get(ConsentChange, job.consent_change_id)
            if change is not None:
                text = _change_text(change)
                key = f"consent:{change.id}"
                post_event_once(self._sink, conversation, key, text, job, by=change.actor)
            self._update_card(session, conversation, contact, now)

    def _floods(self, session: Session, message: Message) -> bool:
        """Whether the text is posted the flood way (it may be in an earlier text's post)."""
        if combined_earlier(message):
            return True
        at = message.created_at
        limit = self._flood_limit
        return flood_at(session, contact_id=message.contact_id, at=at, limit=limit) is not None

    def _backlogged(
        self, session: Session, conversation: Conversation, message: Message, now: datetime
    ) -> bool:
        """Whether the channel is behind Slack's budget and this conversation has texts waiting.

        Without a backlog each text is its own post, as people expect of a chat.
        """
        rule = self._backlog
        if rule is None or not backlogged(session, message, now):
            return False
        channel = conversation.channel
        behind = channel in self._behind
        waiting = rule.until if behind else rule.jobs
        if jobs.queue_reaches(
            session, channel=channel, lane=jobs.SLACK_LANE, at=now, count=waiting
        ):
            self._behind.add(channel)
            return True
        self._behind.discard(channel)
        return False

    def _post_waiting(
        self,
        session: Session,
        conversation: Conversation,
        contact: Contact,
        message: Message,
        now: datetime,
    ) -> None:
        """A flooding or backlogged conversation's waiting texts, in one post (bridge/flood.py)."""
        members = waiting_texts(session, message, now)
        if not members:
            return
        content = combined(members, flag=contact.consent != Consent.UNSUBSCRIBED)
        others = [m.id for m in members[1:] if m.id is not None]
        try:
            self._post_message(session, conversation, message, content, now)
        finally:
            settle(session, members)
        # The others' jobs have nothing left to do: done now, they cost the channel no turn.
        jobs.complete_all(session, kind=POST_TEXT, message_ids=others, now=now)
        session.commit()

    def _ensure_thread(
        self, session: Session, conversation: Conversation, contact: Contact, now: datetime
    ) -> None:
        if not conversation.parent_ts:
            if self._opening is not None:
                self._opening.before_header(session, conversation, contact, now)
            card = self._card(session, contact, now, conversation)
            post = ChatPost(ChannelId(conversation.channel), card, key=f"thread:{conversation.id}")
            self._post_once(session, conversation, post, since=conversation.created_at, now=now)
        if self._opening is not None:
            self._opening.after_header(session, conversation, contact, now)

    def _post_message(
        self,
        session: Session,
        conversation: Conversation,
        message: Message,
        content: PostContent,
        now: datetime,
        *,
        broadcast: bool = False,
    ) -> None:
        post = ChatPost(
            ChannelId(conversation.channel),
            content,
            key=f"message:{message.id}",
            thread_ts=SlackTs(conversation.parent_ts or ""),
            broadcast=broadcast,
        )
        try:
            self._post_once(session, message, post, since=message.created_at, now=now)
        except ChatUnavailable as refused:
            if refused.thread_gone:
                # Someone deleted the thread's parent: the next attempt opens a new thread.
                _forget_thread(session, conversation)
            raise

    def _post_once(
        self,
        session: Session,
        row: Conversation | Message,
        post: ChatPost,
        *,
        since: datetime,
        now: datetime,
    ) -> None:
        """Post unless done; if an earlier attempt's answer was lost, look before posting."""
        if _ts(row):
            return
        if _attempted(row) is not None:
            found = self._sink.find(
                post.channel, post.key, thread_ts=post.thread_ts, since=since - _RECONCILE_MARGIN
            )
            if found:
                _record(session, row, found)
                return
        _mark_attempt(row, now)
        session.add(row)
        session.commit()
        try:
            ts = self._sink.post(post)
        except ChatUnavailable as refused:
            if not refused.uncertain:
                _mark_attempt(row, None)
                session.add(row)
                session.commit()
            raise
        _record(session, row, ts)

    def _update_card(
        self, session: Session, conversation: Conversation, contact: Contact, now: datetime
    ) -> None:
        assert conversation.parent_ts is not None
        card = self._card(session, contact, now, conversation)
        try:
            self._sink.update_card(
                ChannelId(conversation.channel), SlackTs(conversation.parent_ts), card
            )
        except ChatUnavailable as refused:
            if not refused.thread_gone:
                raise
            _forget_thread(session, conversation)

    def _card(
        self, session: Session, contact: Contact, now: datetime, conversation: Conversation
    ) -> ContactCard:
        change = latest_consent_change(session, contact_id=contact.id or 0)
        card = card_for(
            contact, default_zone=self._default_zone, now=now, change=change, policy=self._policy
        )
        return replace(card, thread=thread_state(session, conversation=conversation))


def post_event_once(
    sink: ChatSink,
    conversation: Conversation,
    key: str,
    text: str,
    job: DeliveryJob,
    *,
    by: str | None = None,
) -> None:
    """Post an event into the thread once: a retried job looks for its post first."""
    assert conversation.parent_ts is not None
    channel, thread_ts = ChannelId(conversation.channel), SlackTs(conversation.parent_ts)
    # An earlier attempt may have posted it and lost only the answer.
    if job.attempts and sink.find(channel, key, thread_ts=thread_ts, since=job.created_at):
        return
    sink.post(ChatPost(channel, ThreadEvent(text, job.created_at, by), key, thread_ts))


def _change_text(change: ConsentChange) -> str:
    how = describe_source(change.source, change.detail)
    state = Consent(change.consent).value.replace("_", " ")
    return f"Consent: {state} ({how})"


def _forget_thread(session: Session, conversation: Conversation) -> None:
    conversation.parent_ts = None
    conversation.parent_attempted_at = None
    session.add(conversation)
    session.commit()


def _ts(row: Conversation | Message) -> str | None:
    return row.parent_ts if isinstance(row, Conversation) else row.slack_ts


def _attempted(row: Conversation | Message) -> datetime | None:
    return row.parent_attempted_at if isinstance(row, Conversation) else row.slack_attempted_at


def _mark_attempt(row: Conversation | Message, at: datetime | None) -> None:
    if isinstance(row, Conversation):
        row.parent_attempted_at = at
    else:
        row.slack_attempted_at = at


def _record(session: Session, row: Conversation | Message, ts: str) -> None:
    if isinstance(row, Conversation):
        row.parent_ts = ts
    else:
        row.slack_ts = ts
        row.status = "posted"
    session.add(row)
    session.commit()


def _event_text(session: Session, message: Message) -> str:
    if message.kind == "auto":
        return f"Answered automatically: “{message.body}”"
    word = message.keyword or message.body.strip()
    change = session.exec(
        select(ConsentChange).where(ConsentChange.message_id == message.id)
    ).first()
    if change is not None:
        return f"Texted {word}: {change.consent.replace('_', ' ')}"
    return f"Texted {word}"
