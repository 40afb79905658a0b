"""The inbox's repository on SQLite and PostgreSQL: the Home query, find, stats, viewers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session, select

from bridge.config import Settings
from bridge.ids import MessageSid
from bridge.inbound import InboundText, accept
from bridge.inbox import Act, act, link_previous, on_authorised_reply
from bridge.phones import parse_e164
from store import inbox
from store.models import Contact, Conversation, DeliveryJob, HomeViewer
from tests.conftest import BUSINESS

T0 = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)


def _text(
    session: Session, settings: Settings, n: int, sender: str, body: str, at: datetime
) -> None:
    sid = f"SM{n:032x}"
    text = InboundText(MessageSid(sid), sender, BUSINESS, body)
    accept(session, settings=settings, text=text, at=at)


def test_recent_is_newest_first_without_keywords_or_superseded(
    engine: Engine, settings: Settings
) -> None:
    with Session(engine) as session:
        _text(session, settings, 1, "+14155550100", "first", T0)
        _text(session, settings, 2, "+14155550101", "second", T0 + timedelta(minutes=1))
        _text(session, settings, 3, "+14155550102", "STOP", T0 + timedelta(minutes=2))
        _text(session, settings, 4, "+14155550100", "third", T0 + timedelta(minutes=3))
        rows = inbox.recent(session, limit=10)
        assert [r.last_text.body for r in rows if r.last_text] == ["third", "second"]
        assert [r.contact.phone for r in rows] == ["+14155550100", "+14155550101"]
        assert inbox.recent(session, limit=1)[0].last_text.body == "third"  # type: ignore[union-attr]
        first = rows[0].conversation
        assert first.id is not None
        assert act(session, conversation_id=first.id, actor="U1", what=Act.RESOLVE, at=T0).changed
        _text(session, settings, 5, "+14155550100", "back", T0 + timedelta(minutes=9))
        rows = inbox.recent(session, limit=10)
        assert [r.last_text.body for r in rows if r.last_text] == ["back", "third", "second"]
        # Opening the new thread (the worker) links the resolved one, which leaves the list.
        link_previous(session, conversation=rows[0].conversation, at=T0 + timedelta(minutes=9))
        session.commit()
        rows = inbox.recent(session, limit=10)
        assert [r.last_text.body for r in rows if r.last_text] == ["back", "second"]
        assert rows[0].entry.previous_id == first.id


def test_find_by_number_or_part_of_a_name(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        _text(session, settings, 1, "+14155550100", "hi", T0)
        contact = session.exec(select(Contact)).one()
        contact.name = "Ann 50% Lee"
        session.add(contact)
        session.commit()
        assert len(inbox.find(session, phone=parse_e164("+14155550100"), name=None, limit=5)) == 1
        assert len(inbox.find(session, phone=None, name="ann", limit=5)) == 1
        assert len(inbox.find(session, phone=None, name="LEE", limit=5)) == 1
        assert inbox.find(session, phone=None, name="%", limit=5) != []  # a literal, not a wildcard
        assert inbox.find(session, phone=None, name="bob", limit=5) == []


def test_stats_and_the_wait(engine: Engine, settings: Settings) -> None:
    with Session(engine) as session:
        _text(session, settings, 1, "+14155550100", "hi", T0)
        _text(session, settings, 2, "+14155550101", "hello", T0)
        conversation = session.exec(select(Conversation)).first()
        assert conversation is not None
        on_authorised_reply(
            session, conversation=conversation, author="U1", at=T0 + timedelta(minutes=4)
        )
        session.commit()
        now = T0 + timedelta(hours=2)
        figures = inbox.stats(
            session, since=now - timedelta(days=7), overdue_before=now - timedelta(hours=1)
        )
        assert (figures.conversations, figures.response_seconds, figures.overdue) == (2, [240.0], 1)
        timers = session.exec(select(DeliveryJob).where(DeliveryJob.lane == "timer")).all()
        assert [t.dispatch_time for t in timers] == [T0 + timedelta(minutes=60)] * 2


def test_a_stale_home_tab_is_published_by_one_process_once(engine: Engine) -> None:
    with Session(engine) as session:
        inbox.opened_home(session, user_id="U1", at=T0)
        inbox.opened_home(session, user_id="U2", at=T0 - timedelta(hours=2))  # long closed
        session.commit()
        open_since, before = T0 - timedelta(minutes=30), T0 + timedelta(seconds=10)
        [viewer] = inbox.stale_viewers(session, open_since=open_since, before=before)
        assert viewer.user_id == "U1"
        seen = viewer.published_at
        assert inbox.take_viewer(session, user_id="U1", seen=seen, at=T0 + timedelta(seconds=20))
        # Another process read the same row: its claim loses.
        assert not inbox.take_viewer(
            session, user_id="U1", seen=seen, at=T0 + timedelta(seconds=21)
        )
        fresh = session.get(HomeViewer, "U1")
        assert fresh is not None and fresh.published_at == T0 + timedelta(seconds=20)
        later = T0 + timedelta(minutes=1)
        assert inbox.stale_viewers(session, open_since=open_since, before=later) == []
