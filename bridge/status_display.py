"""A reply's delivery status on its Slack message: one reaction per state, never backwards.

📤 on its way (ours), 📨 queued at Twilio, ✔️ sent to the carrier, ✅ delivered, 👀 read,
⚠️ undelivered, ❌ failed. Each new state replaces the previous reaction; a failure also gets
a note in the thread saying why. Twilio's callbacks may arrive late or twice: a state is
shown only when it is further along than the one already shown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from bridge.ids import ChannelId, SlackTs
from bridge.ports import ReplyFeedback
from bridge.reply_intake import FAILURE_NOTICE
from store import jobs, replies
from store.models import Conversation, DeliveryJob, Message, OutboundSms

log = logging.getLogger(__name__)

SHOW_STATUS = "show_status"
ON_ITS_WAY, QUEUED, SENT, DELIVERED = "on_its_way", "queued", "sent", "delivered"
READ, UNDELIVERED, FAILED = "read", "undelivered", "failed"
REACTIONS = {
    ON_ITS_WAY: "outbox_tray",
    QUEUED: "incoming_envelope",
    SENT: "heavy_check_mark",
    DELIVERED: "white_check_mark",
    READ: "eyes",
    UNDELIVERED: "warning",
    FAILED: "x",
}
_RANK = {ON_ITS_WAY: 0, QUEUED: 1, SENT: 2, DELIVERED: 3, UNDELIVERED: 3, FAILED: 3, READ: 4}
# Twilio's message statuses (and our part's `pending`) as the states a reply shows.
_SHOWN_AS = {
    "pending": ON_ITS_WAY,
    "accepted": QUEUED,
    "scheduled": QUEUED,
    "queued": QUEUED,
    "sending": QUEUED,
    "sent": SENT,
    "delivered": DELIVERED,
    "read": READ,
    "undelivered": UNDELIVERED,
    "failed": FAILED,
    "canceled": FAILED,
}
_FAILURES = frozenset({UNDELIVERED, FAILED})
_LAGGING_LIMIT = 50


def overall(statuses: Iterable[str]) -> str | None:
    """The state of a reply sent as several SMS: any failure, else the least advanced part."""
    states = [_SHOWN_AS.get(s) for s in statuses]
    known = [s for s in states if s is not None]
    if not known:
        return None
    for failure in (FAILED, UNDELIVERED):
        if failure in known:
            return failure
    return min(known, key=lambda s: _RANK[s])


def note_status(session: Session, *, sid: str, at: datetime) -> Conversation | None:
    """After a callback: the reply's overall status; its thread when that needs showing."""
    part = session.exec(select(OutboundSms).where(OutboundSms.twilio_sid == sid)).first()
    if part is None:
        return None
    reply = session.get(Message, part.message_id)
    if reply is None or reply.kind != "reply" or reply.conversation_id is None:
        return None  # automatic texts have no Slack message to show it on
    state = overall(p.status for p in replies.parts_of(session, message_id=reply.id or 0))
    if state is None or state == reply.delivery_status:
        return None
    reply.delivery_status = state
    reply.updated_at = at
    session.add(reply)
    conversation = session.get(Conversation, reply.conversation_id)
    if conversation is not None:
        jobs.enqueue_in_thread(session, kind=SHOW_STATUS, conversation=conversation, at=at)
    session.commit()
    return conversation


class StatusDisplay:
    """Shows replies' states as reactions; also the runner of SHOW_STATUS jobs."""

    def __init__(self, feedback: ReplyFeedback) -> None:
        self._feedback = feedback

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        """Bring every reply of the job's thread whose reaction lags up to date."""
        conversation = session.get(Conversation, job.conversation_id)
        if conversation is None:
            return
        lagging = session.exec(
            select(Message)
            .where(Message.conversation_id == conversation.id, Message.kind == "reply")
            .where(col(Message.delivery_status).is_not(None))
            .where(
                or_(
                    col(Message.status_shown).is_(None),
                    col(Message.status_shown) != col(Message.delivery_status),
                )
            )
            .order_by(col(Message.id))
            .limit(_LAGGING_LIMIT)
        ).all()
        for reply in lagging:
            self.show(session, reply, conversation, now)

    def record(self, session: Session, reply: Message, parts: Iterable[OutboundSms]) -> None:
        """Set the reply's overall status from its parts, in the caller's transaction."""
        state = overall(p.status for p in parts)
        if state is not None:
            reply.delivery_status = state
            session.add(reply)

    def show(
        self, session: Session, reply: Message, conversation: Conversation, now: datetime
    ) -> None:
        """React with the reply's state if it is further along than what is shown."""
        target = reply.delivery_status
        shown = reply.status_shown or ON_ITS_WAY
        if target not in _RANK or _RANK[target] <= _RANK.get(shown, 0):
            return
        # Only one process moves a reaction from `shown`: the others see no row changed.
        claimed = session.execute(
            update(Message)
            .where(col(Message.id) == reply.id)
            .where(
                col(Message.status_shown).is_(None)
                if reply.status_shown is None
                else col(Message.status_shown) == shown
            )
            .values(status_shown=target)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            session.rollback()
            return
        if target in _FAILURES and not _has_failure_notice(session, reply):
            assert reply.id is not None
            jobs.enqueue_in_thread(
                session, kind=FAILURE_NOTICE, conversation=conversation, message_id=reply.id, at=now
            )
        session.commit()
        session.refresh(reply)
        log.debug("reply %s shows %s (was %s)", reply.id, target, shown)
        where = ChannelId(conversation.channel), SlackTs(reply.slack_ts or "")
        self._feedback.react(*where, REACTIONS[target], remove=REACTIONS[shown])


def _has_failure_notice(session: Session, reply: Message) -> bool:
    query = select(DeliveryJob.id).where(
        DeliveryJob.kind == FAILURE_NOTICE, DeliveryJob.message_id == reply.id
    )
    return session.exec(query).first() is not None
