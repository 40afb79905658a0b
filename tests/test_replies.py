"""The reply domain on a real database, with the chat and SMS sides as in-memory doubles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bridge.cards import ContactCard
from bridge.config import Settings, load_settings
from bridge.ids import ChannelId, MessageSid, SlackTs
from bridge.inbound import InboundText, accept
from bridge.ports import (
    ChatPost,
    OutgoingSms,
    Role,
    SentSms,
    SmsRejected,
    SmsUnavailable,
)
from bridge.reply_intake import (
    FAILURE_NOTICE,
    RECALL_NOTICE,
    SEND_REPLY,
    Outcome,
    ThreadMessage,
    receive_delete,
    receive_edit,
    receive_reply,
)
from bridge.reply_sender import ReplySender
from store import contacts, jobs
from store.models import Contact, Conversation, DeliveryJob, Message, ReplyAudit
from tests.conftest import BUSINESS, CHANNEL, FakeClock, base_env

CUSTOMER = "+14155550100"
THREAD = "1700000000.000100"
REPLY_KINDS = (SEND_REPLY, RECALL_NOTICE, FAILURE_NOTICE)  # the rest are the chat side's


@dataclass
class FakeSms:
    """An SMS provider in memory: what it took, and failures to play back."""

    taken: list[OutgoingSms] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)
    lose_answer: bool = False

    def send(self, sms: OutgoingSms) -> SentSms:
        if self.failures:
            raise self.failures.pop(0)
        self.taken.append(sms)
        if self.lose_answer:
            self.lose_answer = False
            raise SmsUnavailable("timeout", uncertain=True)
        return SentSms(f"SM{len(self.taken):032x}", "queued")

    def find_sent(self, sms: OutgoingSms, *, since: datetime, exclude: set[str]) -> SentSms | None:
        for n, taken in enumerate(self.taken, start=1):
            sid = f"SM{n:032x}"
            if taken == sms and sid not in exclude:
                return SentSms(sid, "queued")
        return None


@dataclass
class FakePeople:
    roles: dict[str, Role] = field(default_factory=dict)

    def role_of(self, user_id: str) -> Role:
        return self.roles.get(user_id, Role.MEMBER)

    def display_name(self, user_id: str) -> str | None:
        return {"UANN": "Ann"}.get(user_id)

    def channel_name(self, channel_id: str) -> str | None:
        return None


@dataclass
class FakeChat:
    reactions: list[tuple[str, str]] = field(default_factory=list)
    told: list[tuple[str, str]] = field(default_factory=list)
    posts: list[ChatPost] = field(default_factory=list)

    def react(
        self, channel: ChannelId, ts: SlackTs, name: str, *, remove: str | None = None
    ) -> None:
        self.reactions.append((ts, name))

    def tell(self, channel: ChannelId, user: str, thread_ts: SlackTs, text: str) -> None:
        self.told.append((user, text))

    def unreact(self, channel: ChannelId, ts: SlackTs, name: str) -> None:
        self.reactions.remove((ts, name))

    def offer_hold(
        self, channel: ChannelId, user: str, thread_ts: SlackTs, text: str, reply_id: int
    ) -> None:
        self.told.append((user, text))

    def post(self, post: ChatPost) -> SlackTs:
        self.posts.append(post)
        return SlackTs(f"1800000000.{len(self.posts):06d}")

    def update_card(self, channel: ChannelId, ts: SlackTs, card: ContactCard) -> None:
        return None

    def find(
        self, channel: ChannelId, key: str, *, thread_ts: SlackTs | None, since: datetime
    ) -> SlackTs | None:
        return None


@dataclass
class World:
    engine: Engine
    settings: Settings
    clock: FakeClock
    sms: FakeSms
    chat: FakeChat
    sender: ReplySender
    n: int = 0

    def reply(self, text: str, user: str = "UANN") -> Outcome:
        self.n += 1
        message = ThreadMessage(CHANNEL, THREAD, f"1700000001.{self.n:06d}", user, text)
        with Session(self.engine) as session:
            return receive_reply(
                session, settings=self.settings, message=message, at=self.clock.now()
            )

    def run_jobs(self) -> None:
        """Run every due job as the worker would; a failed one is due again a second later."""
        for _ in range(20):
            with Session(self.engine) as session:
                job = jobs.claim_next(
                    session, now=self.clock.now(), worker="t", lease=timedelta(seconds=60)
                )
                if job is None:
                    return
                try:
                    if job.kind in REPLY_KINDS:
                        self.sender.run(session, job, self.clock.now())
                except SmsUnavailable as unavailable:
                    session.rollback()
                    later = self.clock.now() + timedelta(seconds=1)
                    jobs.retry(session, job=job, at=later, error=unavailable.reason)
                    continue
                jobs.complete(session, job=job, now=self.clock.now())
                session.commit()

    def reply_statuses(self) -> list[str]:
        with Session(self.engine) as session:
            query = select(Message).where(Message.direction == "outbound").order_by(col(Message.id))
            return [m.status for m in session.exec(query)]

    def set_consent(self, consent: str) -> None:
        with Session(self.engine) as session:
            contact = session.exec(select(Contact)).one()
            contacts.change_consent(
                session, contact=contact, consent=consent, source="test", at=self.clock.now()
            )
            session.commit()


@pytest.fixture
def world(engine: Engine, clock: FakeClock) -> World:
    # Automatic texts are the consent tests' business: here only replies go out.
    settings = load_settings(base_env(AUTORESPOND="off", OPT_IN_TEXT=""), env_file=None)
    with Session(engine) as session:
        sid = MessageSid("SM" + "1" * 32)
        accept(
            session,
            settings=settings,
            text=InboundText(sid, CUSTOMER, BUSINESS, "hi"),
            at=clock.now(),
        )
        conversation = session.exec(select(Conversation)).one()
        conversation.parent_ts = THREAD
        session.add(conversation)
        for job in session.exec(select(DeliveryJob)):
            session.delete(job)  # the inbound post is not what these tests are about
        session.commit()
    sms, chat = FakeSms(), FakeChat()
    people = FakePeople({"UANN": Role.ADMIN})
    sender = ReplySender(settings=settings, sms=sms, people=people, feedback=chat, sink=chat)
    world = World(engine, settings, clock, sms, chat, sender)
    world.set_consent("subscribed")
    return world


def test_an_allowed_reply_is_sent_once_and_audited(world: World) -> None:
    assert world.reply("Hi <@UANN> &amp; co") is Outcome.QUEUED
    world.run_jobs()
    assert [s.body for s in world.sms.taken] == ["Hi @Ann & co"]
    assert world.sms.taken[0].sender == BUSINESS and world.sms.taken[0].to == CUSTOMER
    assert world.reply_statuses() == ["sent"]
    assert [name for _, name in world.chat.reactions] == ["outbox_tray", "incoming_envelope"]


def test_a_lost_answer_is_reconciled_not_resent(world: World) -> None:
    world.sms.lose_answer = True
    world.reply("once")
    world.run_jobs()
    assert world.reply_statuses() == ["sending"]
    world.clock.advance(2)
    world.run_jobs()
    assert [s.body for s in world.sms.taken] == ["once"]
    assert world.reply_statuses() == ["sent"]


def test_consent_lost_while_waiting_stops_the_reply(world: World) -> None:
    world.sms.failures = [SmsUnavailable("Twilio down")]
    world.reply("are you there?")
    world.run_jobs()  # first attempt fails and is put back
    world.set_consent("unsubscribed")
    world.clock.advance(2)
    world.run_jobs()
    assert world.sms.taken == []
    assert world.reply_statuses() == ["refused"]
    assert "unsubscribed" in world.chat.told[-1][1]


def test_twilio_21610_unsubscribes_the_contact_and_posts_why(world: World) -> None:
    world.sms.failures = [SmsRejected(21610, "Attempt to send to unsubscribed recipient")]
    world.reply("hello")
    world.run_jobs()
    with Session(world.engine) as session:
        assert session.exec(select(Contact)).one().consent == "unsubscribed"
        kinds = [j.kind for j in session.exec(select(DeliveryJob).order_by(col(DeliveryJob.id)))]
    assert "consent_event" in kinds and "failure_notice" in kinds
    assert world.reply_statuses() == ["failed"]


def test_an_edit_before_sending_changes_what_is_sent(world: World) -> None:
    world.reply("See you at 5")
    with Session(world.engine) as session:
        outcome = receive_edit(
            session,
            settings=world.settings,
            channel=CHANNEL,
            thread_ts=THREAD,
            ts="1700000001.000001",
            text="See you at 6",
            at=world.clock.now(),
        )
    assert outcome is Outcome.UPDATED
    world.run_jobs()
    assert [s.body for s in world.sms.taken] == ["See you at 6"]


def test_a_deletion_before_sending_cancels(world: World) -> None:
    world.reply("oops")
    with Session(world.engine) as session:
        outcome = receive_delete(
            session, channel=CHANNEL, thread_ts=THREAD, ts="1700000001.000001", at=world.clock.now()
        )
    assert outcome is Outcome.CANCELLED
    world.run_jobs()
    assert world.sms.taken == []
    assert world.reply_statuses() == ["cancelled"]


def test_edits_after_sending_are_noted_once(world: World) -> None:
    world.reply("sent already")
    world.run_jobs()
    outcomes = []
    for text in ("edit one", "edit two"):
        with Session(world.engine) as session:
            outcomes.append(
                receive_edit(
                    session,
                    settings=world.settings,
                    channel=CHANNEL,
                    thread_ts=THREAD,
                    ts="1700000001.000001",
                    text=text,
                    at=world.clock.now(),
                )
            )
    assert outcomes == [Outcome.RECALL_NOTED, Outcome.IGNORED]
    world.run_jobs()
    assert len(world.chat.posts) == 1 and "already gone out" in str(world.chat.posts[0].content)


def test_a_note_is_audited_and_never_queued(world: World) -> None:
    assert world.reply("// internal") is Outcome.NOTE
    world.run_jobs()
    assert world.sms.taken == []
    with Session(world.engine) as session:
        assert [a.decision for a in session.exec(select(ReplyAudit))] == ["note"]


def test_a_reply_in_an_unknown_thread_is_ignored(world: World) -> None:
    message = ThreadMessage(CHANNEL, "1.000001", "2.000001", "UANN", "hi")
    with Session(world.engine) as session:
        assert receive_reply(
            session, settings=world.settings, message=message, at=world.clock.now()
        ) is (Outcome.IGNORED)


def test_the_same_slack_message_is_stored_once(world: World) -> None:
    message = ThreadMessage(CHANNEL, THREAD, "1700000009.000001", "UANN", "hi")
    with Session(world.engine) as session:
        first = receive_reply(
            session, settings=world.settings, message=message, at=world.clock.now()
        )
        again = receive_reply(
            session, settings=world.settings, message=message, at=world.clock.now()
        )
    assert (first, again) == (Outcome.QUEUED, Outcome.DUPLICATE)
