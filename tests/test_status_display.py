"""The status a reply shows, on both databases: forward only, one failure note."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bridge.ids import ChannelId, SlackTs
from bridge.reply_intake import FAILURE_NOTICE
from bridge.status_display import SHOW_STATUS, StatusDisplay, note_status
from store import jobs, replies
from store.models import Contact, Conversation, DeliveryJob, Message, OutboundSms
from tests.conftest import BUSINESS, CHANNEL, FakeClock

_LEASE = timedelta(seconds=30)


@dataclass
class Reactions:
    """Records what the reply's reactions become (a ReplyFeedback of our own)."""

    moves: list[tuple[str | None, str]] = field(default_factory=list)

    def react(
        self, channel: ChannelId, ts: SlackTs, name: str, *, remove: str | None = None
    ) -> None:
        self.moves.append((remove, name))

    def tell(self, channel: ChannelId, user: str, thread_ts: SlackTs, text: str) -> None:
        raise AssertionError("nobody is told privately about a delivery status")

    def unreact(self, channel: ChannelId, ts: SlackTs, name: str) -> None:
        self.moves.append((name, ""))

    def offer_hold(
        self, channel: ChannelId, user: str, thread_ts: SlackTs, text: str, reply_id: int
    ) -> None:
        raise AssertionError("a delivery status holds nothing")


def _sent_reply(session: Session, parts: int = 1) -> list[str]:
    contact = Contact(phone="+14155550100")
    session.add(contact)
    session.flush()
    assert contact.id is not None
    conversation = Conversation(
        contact_id=contact.id, business_number=BUSINESS, channel=CHANNEL, parent_ts="1.0"
    )
    session.add(conversation)
    session.flush()
    reply = Message(
        contact_id=contact.id,
        conversation_id=conversation.id,
        direction="outbound",
        kind="reply",
        from_number=BUSINESS,
        to_number=contact.phone,
        slack_ts="2.0",
        status="sent",
        delivery_status="on_its_way",
        status_shown="on_its_way",
    )
    session.add(reply)
    session.flush()
    assert reply.id is not None
    sids = [f"SM{n:032x}" for n in range(parts)]
    for n, sid in enumerate(sids):
        session.add(
            OutboundSms(
                message_id=reply.id,
                part=n,
                to_number=contact.phone,
                from_number=BUSINESS,
                twilio_sid=sid,
                status="queued",
            )
        )
    session.commit()
    return sids


def _callback(
    session: Session,
    clock: FakeClock,
    display: StatusDisplay,
    sid: str,
    status: str,
    code: int | None = None,
) -> None:
    replies.record_status(session, sid=sid, status=status, error_code=code, at=clock.now())
    note_status(session, sid=sid, at=clock.now())
    while (job := jobs.claim_next(session, now=clock.now(), worker="t", lease=_LEASE)) is not None:
        if job.kind == SHOW_STATUS:
            display.run(session, job, clock.now())
        jobs.complete(session, job=job, now=clock.now())
        session.commit()


def test_states_move_forward_only_and_replace_each_other(engine: Engine, clock: FakeClock) -> None:
    feedback = Reactions()
    display = StatusDisplay(feedback)
    with Session(engine) as session:
        [sid] = _sent_reply(session)
        for status in ("queued", "sent", "delivered", "sent", "queued", "delivered", "read"):
            _callback(session, clock, display, sid, status)
    assert feedback.moves == [
        ("outbox_tray", "incoming_envelope"),
        ("incoming_envelope", "heavy_check_mark"),
        ("heavy_check_mark", "white_check_mark"),
        ("white_check_mark", "eyes"),
    ]


def test_a_long_reply_is_delivered_when_all_its_parts_are(engine: Engine, clock: FakeClock) -> None:
    feedback = Reactions()
    display = StatusDisplay(feedback)
    with Session(engine) as session:
        first, second = _sent_reply(session, parts=2)
        _callback(session, clock, display, first, "delivered")
        _callback(session, clock, display, second, "sent")
        assert feedback.moves[-1] == ("incoming_envelope", "heavy_check_mark")
        _callback(session, clock, display, second, "delivered")
    assert feedback.moves[-1] == ("heavy_check_mark", "white_check_mark")


def test_a_failure_queues_one_note(engine: Engine, clock: FakeClock) -> None:
    feedback = Reactions()
    display = StatusDisplay(feedback)
    with Session(engine) as session:
        [sid] = _sent_reply(session)
        _callback(session, clock, display, sid, "undelivered", 30005)
        _callback(session, clock, display, sid, "failed", 30005)
        _callback(session, clock, display, sid, "undelivered", 30005)
        notices = session.exec(select(DeliveryJob).where(DeliveryJob.kind == FAILURE_NOTICE)).all()
        assert len(notices) == 1
        part = session.exec(select(OutboundSms).order_by(col(OutboundSms.id))).one()
        assert part.error_code == 30005
    assert feedback.moves == [("outbox_tray", "warning")]


def test_automatic_texts_and_unknown_sids_queue_nothing(engine: Engine, clock: FakeClock) -> None:
    with Session(engine) as session:
        [sid] = _sent_reply(session)
        reply = session.exec(select(Message)).one()
        reply.kind = "auto"
        session.add(reply)
        session.commit()
        replies.record_status(session, sid=sid, status="sent", error_code=None, at=clock.now())
        assert note_status(session, sid=sid, at=clock.now()) is None
        assert note_status(session, sid="SM" + "f" * 32, at=clock.now()) is None
        assert session.exec(select(DeliveryJob)).all() == []
