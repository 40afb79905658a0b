"""Accepting inbound texts: stored once, with a job, keywords as events."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, select

from bridge.config import Settings, load_settings
from bridge.ids import MessageSid
from bridge.inbound import POST_EVENT, POST_TEXT, InboundText, accept
from store.models import Contact, Conversation, DeliveryJob, Message
from tests.conftest import BUSINESS, CHANNEL, FakeClock, base_env

CUSTOMER = "+14155550100"


def _text(n: int, body: str = "Hi there", **extra: str) -> InboundText:
    sid = MessageSid(f"SM{n:032x}")
    return InboundText(sid=sid, sender=CUSTOMER, to=BUSINESS, body=body, **extra)  # type: ignore[arg-type]


def test_a_text_is_stored_with_its_job_and_a_conversation(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    with Session(engine) as session:
        result = accept(session, settings=settings, text=_text(1), at=clock.now())
        assert not result.duplicate
        message = session.get(Message, result.message_id)
        assert message is not None and message.kind == "text" and message.body == "Hi there"
        conversation = session.exec(select(Conversation)).one()
        assert (conversation.channel, conversation.business_number) == (CHANNEL, BUSINESS)
        job = session.exec(select(DeliveryJob).where(DeliveryJob.lane == "slack")).one()
        assert (job.kind, job.message_id, job.channel) == (POST_TEXT, message.id, CHANNEL)
        contact = session.exec(select(Contact)).one()
        assert contact.phone == CUSTOMER and contact.consent == "never_subscribed"


def test_a_replayed_sid_changes_nothing(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    with Session(engine) as session:
        first = accept(session, settings=settings, text=_text(1), at=clock.now())
        again = accept(session, settings=settings, text=_text(1, "different"), at=clock.now())
        assert again.duplicate and again.message_id == first.message_id
        assert len(session.exec(select(Message).where(Message.direction == "inbound")).all()) == 1
        assert len(session.exec(select(DeliveryJob).where(DeliveryJob.lane == "slack")).all()) == 1


def test_later_texts_join_the_same_conversation(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    with Session(engine) as session:
        accept(session, settings=settings, text=_text(1), at=clock.now())
        accept(session, settings=settings, text=_text(2, "again"), at=clock.now())
        assert len(session.exec(select(Conversation)).all()) == 1
        conversation_ids = {m.conversation_id for m in session.exec(select(Message))}
        assert len(conversation_ids) == 1


def test_a_keyword_without_a_thread_opens_none(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    with Session(engine) as session:
        result = accept(session, settings=settings, text=_text(1, "Start"), at=clock.now())
        assert result.keyword is not None
        assert session.exec(select(Conversation)).all() == []
        assert session.exec(select(DeliveryJob).where(DeliveryJob.lane == "slack")).all() == []
        assert session.exec(select(Contact)).one().consent == "subscribed"


def test_a_keyword_in_a_thread_is_an_event(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    with Session(engine) as session:
        accept(session, settings=settings, text=_text(1), at=clock.now())
        accept(session, settings=settings, text=_text(2, "STOP!"), at=clock.now())
        query = select(DeliveryJob).where(DeliveryJob.lane == "slack").order_by("id")
        assert [job.kind for job in session.exec(query)] == [POST_TEXT, POST_EVENT]
        assert session.exec(select(Contact)).one().consent == "unsubscribed"


def test_unrouted_business_numbers_fall_back_to_the_inbox(engine: Engine, clock: FakeClock) -> None:
    settings = load_settings(base_env(ROUTES="+15550002222=C0SALES"), env_file=None)
    with Session(engine) as session:
        routed = InboundText(MessageSid("SM" + "a" * 32), CUSTOMER, "+15550002222", "hi")
        pooled = InboundText(MessageSid("SM" + "b" * 32), "+14155550199", "+15550009999", "hi")
        accept(session, settings=settings, text=routed, at=clock.now())
        accept(session, settings=settings, text=pooled, at=clock.now())
        channels = [c.channel for c in session.exec(select(Conversation).order_by("id"))]
        assert channels == ["C0SALES", CHANNEL]
