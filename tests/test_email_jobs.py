"""Forwarding and fallback mail on a real database and a real SMTP server, Slack as a double."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from bot.outage import explain
from bridge.config import Settings, load_settings
from bridge.forwarding import (
    CONFIG_ALERT,
    FALLBACK_TEXT,
    FORWARD_CONSENT,
    FORWARD_TEXT,
    MAIL_CHANNEL,
)
from bridge.ids import MessageSid
from bridge.inbound import POST_EVENT, POST_TEXT, UPDATE_CARD, InboundText, accept
from bridge.mail_jobs import mail_runners
from bridge.pacing import PaceBoard
from bridge.ports import ChatUnavailable
from bridge.worker import DeliveryWorker, Dispatch, JobRunner
from store import jobs
from store.models import Contact, DeliveryJob, Message
from tests.conftest import BUSINESS, FakeClock, base_env
from tests.smtp_server import Received, SmtpSink

ALICE, BOB = "+14155550100", "+442071838750"
OWNER, ONCALL = "owner@shop.test", "oncall@shop.test"


@dataclass
class FakeSlack:
    """Stands in for the Slack runners: posts (sets slack_ts) or fails with `error`."""

    error: str | None = None
    configuration: bool = False
    posted: list[int] = field(default_factory=list)

    def run(self, session: Session, job: DeliveryJob, now: datetime) -> None:
        if self.error:
            raise ChatUnavailable(self.error, configuration=self.configuration)
        if job.kind == POST_TEXT:
            message = session.get(Message, job.message_id)
            assert message is not None
            message.slack_ts = f"1800000000.{job.message_id:06d}"
            session.add(message)
            self.posted.append(job.message_id or 0)


@dataclass
class FakeLinks:
    asked: list[tuple[str, str]] = field(default_factory=list)

    def link(self, channel: str, ts: str) -> str | None:
        self.asked.append((channel, ts))
        return f"https://shop.slack.test/archives/{channel}/p{ts.replace('.', '')}"


@dataclass
class World:
    engine: Engine
    clock: FakeClock
    sink: SmtpSink
    slack: FakeSlack
    links: FakeLinks
    settings: Settings
    n: int = 0

    def text(
        self, body: str, sender: str = ALICE, city: str | None = None, state: str | None = None
    ) -> int:
        self.n += 1
        sid = MessageSid(f"SM{self.n:032x}")
        text = InboundText(sid, sender, BUSINESS, body, city=city, state=state)
        with Session(self.engine) as session:
            accepted = accept(session, settings=self.settings, text=text, at=self.clock.now())
        return accepted.message_id

    def run(self, seconds: float = 0) -> None:
        """Let `seconds` pass, running what falls due as the worker would."""
        runners: dict[str, JobRunner] = dict.fromkeys(
            (POST_TEXT, POST_EVENT, UPDATE_CARD), self.slack
        )
        runners |= mail_runners(self.settings, links=self.links, explain=explain)
        # Budgets and pauses on the fake clock too, so a Retry-After passes as the test says.
        board = PaceBoard(self.engine, wallclock=lambda: self.clock.now().timestamp())
        worker = DeliveryWorker(
            engine=self.engine, runner=Dispatch(runners), clock=self.clock, board=board
        )
        end = self.clock.now() + timedelta(seconds=seconds)
        while True:
            while worker._run_one():
                pass
            now = self.clock.now()
            if now >= end:
                return
            # On to the next time a job falls due (or its paused channel resumes).
            with Session(self.engine) as session:
                due = session.exec(
                    select(func.min(DeliveryJob.dispatch_time))
                    .where(DeliveryJob.state == jobs.PENDING)
                    .where(col(DeliveryJob.dispatch_time) > now)
                ).one()
            ready = board.seconds_to_next_ready()
            resumes = now + timedelta(seconds=ready) if ready is not None else None
            later = [t for t in (due, resumes) if t is not None and t > now]
            self.clock.current = min([*later, end])

    def mail_jobs(self, *kinds: str) -> list[DeliveryJob]:
        with Session(self.engine) as session:
            query = select(DeliveryJob).where(col(DeliveryJob.kind).startswith("mail_"))
            if kinds:
                query = query.where(col(DeliveryJob.kind).in_(kinds))
            return list(session.exec(query.order_by(col(DeliveryJob.id))))

    def mails(self) -> list[Received]:
        return list(self.sink.received)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def make_world(engine: Engine, clock: FakeClock, sink: SmtpSink, **env: str) -> World:
    settings = load_settings(
        base_env(
            AUTORESPOND="off",
            SMTP_URL=sink.url(),
            EMAIL_FROM="Shop <shop@shop.test>",
            **env,
        ),
        env_file=None,
    )
    return World(engine, clock, sink, FakeSlack(), FakeLinks(), settings)


@pytest.fixture
def world(engine: Engine, clock: FakeClock, sink: SmtpSink) -> World:
    return make_world(engine, clock, sink, FORWARD_TO=OWNER)


def test_a_text_is_forwarded_with_who_consent_local_time_and_the_slack_link(world: World) -> None:
    world.text("Where is my order? 🚚 Ça va?", city="OAKLAND", state="CA")
    world.run(4)
    assert world.mails() == []  # a forward waits a moment, for the link to Slack
    world.run(2)
    [mail] = world.mails()
    message = mail.message
    assert mail.rcpt_tos == (OWNER,) and mail.mail_from == "shop@shop.test"
    assert message["Subject"] == "SMS from +1 415-555-0100"
    assert message["To"] == OWNER and str(message["From"]) == "Shop <shop@shop.test>"
    plain, html = mail.part("plain"), mail.part("html")
    for part in (plain, html):
        assert "Where is my order? 🚚 Ça va?" in part
        assert "Never subscribed to SMS" in part
        # 18:00 UTC on 12 March 2026 is 11:00 in California (PDT).
        assert "Thu 12 Mar 2026, 11:00 AM PDT (America/Los_Angeles)" in part
        assert "OAKLAND, CA" in part and "+1 555-000-1111" in part
        assert "https://shop.slack.test/archives/C0INBOX/p1800000000000001" in part
    assert "Not in Slack" not in plain
    [job] = world.mail_jobs(FORWARD_TEXT)
    assert (job.kind, job.state, job.last_error, job.channel) == (
        FORWARD_TEXT,
        jobs.DONE,
        None,
        MAIL_CHANNEL,
    )


def test_a_customers_mails_thread_together(world: World) -> None:
    world.text("first")
    world.text("second")
    world.text("hello from London", sender=BOB)
    world.run(10)
    first, second, other = world.mails()
    ids = {m.message["Message-ID"] for m in (first, second, other)}
    assert len(ids) == 3
    assert all(i.startswith("<text.SM") and i.endswith("@shop.test>") for i in ids)
    root = first.message["References"]
    assert root.startswith("<contact.") and root.endswith("@shop.test>")
    assert second.message["References"] == root and second.message["In-Reply-To"] == root
    assert first.message["Subject"] == second.message["Subject"]
    assert other.message["References"] != root
    assert other.message["Subject"] == "SMS from +44 20 7183 8750"
    assert "London" in other.part("plain") and "Europe/London" in other.part("plain")


def test_keyword_texts_are_not_forwarded_but_consent_changes_are(world: World) -> None:
    world.text("hi")
    world.text("HELP")
    world.text("Stop!")
    world.text("STOP")  # already unsubscribed: no change
    world.run(10)
    kinds = [job.kind for job in world.mail_jobs(FORWARD_TEXT, FORWARD_CONSENT)]
    assert kinds == [FORWARD_TEXT, FORWARD_CONSENT]
    text, consent = world.mails()
    assert "now unsubscribed from SMS" in consent.part("plain")
    assert "was never subscribed to SMS" in consent.part("plain")
    assert "texted STOP" in consent.part("plain")
    assert consent.message["References"] == text.message["References"]
    assert consent.message["Subject"] == text.message["Subject"]


def test_a_retried_forward_keeps_its_message_id_and_goes_once(world: World) -> None:
    world.sink.fail_data("451 4.3.0 try again later")
    world.text("hello")
    world.run(5)
    [job] = world.mail_jobs(FORWARD_TEXT)
    assert job.state == jobs.PENDING and job.attempts == 1 and "451" in (job.last_error or "")
    world.run(5)
    [mail] = world.mails()
    [job] = world.mail_jobs(FORWARD_TEXT)
    assert job.state == jobs.DONE
    assert mail.message["Message-ID"] == f"<text.SM{1:032x}@shop.test>"
    world.run(30)
    assert len(world.mails()) == 1


def test_a_mail_server_that_is_down_is_waited_for(world: World) -> None:
    world.sink.stop()
    world.text("hello")
    world.run(15)
    [job] = world.mail_jobs(FORWARD_TEXT)
    assert job.state == jobs.PENDING and job.attempts >= 2
    assert "unreachable" in (job.last_error or "")
    world.sink.start()
    world.run(120)
    assert len(world.mails()) == 1 and world.mail_jobs(FORWARD_TEXT)[0].state == jobs.DONE


def test_a_recipient_refused_for_good_is_recorded_not_retried(
    engine: Engine, clock: FakeClock, sink: SmtpSink
) -> None:
    world = make_world(engine, clock, sink, FORWARD_TO=f"{OWNER},gone@shop.test")
    sink.rcpt_answers["gone@shop.test"] = "550 5.1.1 no such user"
    world.text("hello")
    world.run(10)
    [mail] = world.mails()
    assert mail.rcpt_tos == (OWNER,)
    [job] = world.mail_jobs(FORWARD_TEXT)
    assert job.state == jobs.DONE and job.attempts == 0
    assert job.last_error is not None and "gone@shop.test: 550 5.1.1" in job.last_error

    sink.rcpt_answers[OWNER] = "550 5.1.1 no such user"
    world.text("again")
    world.run(60)
    assert len(world.mails()) == 1
    last = world.mail_jobs(FORWARD_TEXT)[-1]
    assert last.state == jobs.DONE and last.attempts == 0
    assert "refused every recipient" in (last.last_error or "")


def test_header_injection_through_a_text_or_a_contact_name_goes_nowhere(world: World) -> None:
    world.text("first")
    with Session(world.engine) as session:
        contact = session.exec(select(Contact)).one()
        contact.name = "Eve\r\nBcc: victim@evil.test\r\nSubject: pwned"
        session.add(contact)
        session.commit()
    world.text("hi\r\nBcc: victim@evil.test\r\n\r\n<script>x</script>")
    world.run(10)
    _, mail = world.mails()
    assert mail.rcpt_tos == (OWNER,)
    message = mail.message
    assert message["Bcc"] is None and len(message.get_all("Subject") or []) == 1
    subject = "SMS from Eve Bcc: victim@evil.test Subject: pwned (+1 415-555-0100)"
    assert message["Subject"] == subject
    assert not message.defects
    assert "<script>" not in mail.part("html") and "&lt;script&gt;" in mail.part("html")


def test_nothing_is_queued_without_mail_settings(engine: Engine, clock: FakeClock) -> None:
    settings = load_settings(base_env(AUTORESPOND="off"), env_file=None)
    with Session(engine) as session:
        text = InboundText(MessageSid("SM" + "a" * 32), ALICE, BUSINESS, "hi")
        accept(session, settings=settings, text=text, at=clock.now())
        kinds = session.exec(select(DeliveryJob.kind)).all()
    assert not any(kind.startswith("mail_") for kind in kinds)


# -- fallback ----------------------------------------------------------------------------------


@pytest.fixture
def fallback(engine: Engine, clock: FakeClock, sink: SmtpSink) -> World:
    return make_world(engine, clock, sink, FALLBACK_TO=ONCALL, FALLBACK_AFTER_SECONDS="300")


def test_a_text_slack_takes_in_time_is_not_mailed(fallback: World) -> None:
    fallback.text("hello")
    fallback.run(400)
    assert fallback.mails() == [] and fallback.slack.posted
    [job] = fallback.mail_jobs()
    assert job.kind == FALLBACK_TEXT and job.state == jobs.DONE


def test_a_text_slack_does_not_take_is_mailed_once_after_the_wait(fallback: World) -> None:
    fallback.slack.error = "Slack answered HTTP 503"
    fallback.text("help, my order")
    fallback.run(299)
    assert fallback.mails() == []
    fallback.run(2)
    [mail] = fallback.mails()
    assert mail.rcpt_tos == (ONCALL,)
    plain = mail.part("plain")
    assert "Not in Slack after 5 minutes: Slack is having trouble (answered HTTP 503)" in plain
    assert "help, my order" in plain and "This is the only email about this text" in plain
    assert mail.message["Message-ID"].startswith("<fallback.SM")
    fallback.run(3600)  # the outage goes on: no second mail
    assert len(fallback.mails()) == 1
    fallback.slack.error = None
    fallback.run(600)
    assert fallback.slack.posted == [1] and len(fallback.mails()) == 1


def test_a_configuration_problem_sends_one_alert_for_many_texts(fallback: World) -> None:
    fallback.slack.error, fallback.slack.configuration = "not_in_channel", True
    for n in range(3):
        fallback.text(f"text {n}")
        fallback.clock.advance(10)
    fallback.text("from Bob", sender=BOB)
    fallback.run(400)
    mails = fallback.mails()
    alerts = [m for m in mails if m.message["Subject"].startswith("smsbridge cannot post")]
    texts = [m for m in mails if m.message["Subject"].startswith("SMS from")]
    assert len(alerts) == 1 and len(texts) == 4
    [alert] = alerts
    assert alert.rcpt_tos == (ONCALL,)
    plain = alert.part("plain")
    assert "not a member of the inbox channel C0INBOX (not_in_channel)" in plain
    assert "/invite @smsbridge" in plain and "once a day" in plain
    assert "What to fix: invite it" in texts[0].part("plain")
    assert alert.message["References"] is None
    # The problem lasts into the next day: one more alert, not one per text.
    fallback.clock.advance(24 * 3600)
    fallback.text("next day")
    fallback.run(400)
    kinds = [job.kind for job in fallback.mail_jobs()]
    assert kinds.count(CONFIG_ALERT) == 2


def test_a_slack_refusal_of_another_kind_gets_its_own_alert(fallback: World) -> None:
    fallback.slack.error, fallback.slack.configuration = "invalid_auth", True
    fallback.text("one")
    fallback.run(400)
    fallback.slack.error = "channel_not_found"
    fallback.text("two", sender=BOB)
    fallback.run(400)
    subjects = [m.message["Subject"] for m in fallback.mails()]
    assert sum(s.startswith("smsbridge cannot post") for s in subjects) == 2


def test_the_owner_who_has_the_forward_gets_no_second_mail(
    engine: Engine, clock: FakeClock, sink: SmtpSink
) -> None:
    world = make_world(engine, clock, sink, FORWARD_TO=OWNER, FALLBACK_AFTER_SECONDS="60")
    assert world.settings.fallback_to == (OWNER,)
    world.slack.error, world.slack.configuration = "invalid_auth", True
    world.text("hello")
    world.run(120)
    forward, alert = world.mails()
    assert forward.rcpt_tos == (OWNER,) and alert.rcpt_tos == (OWNER,)
    assert "Not in Slack yet: Slack refuses smsbridge's bot token (invalid_auth)" in forward.part(
        "plain"
    )
    assert "Open the conversation in Slack" not in forward.part("plain")
    assert alert.message["Subject"].startswith("smsbridge cannot post to Slack")


def test_forward_and_fallback_to_different_people(
    engine: Engine, clock: FakeClock, sink: SmtpSink
) -> None:
    world = make_world(
        engine, clock, sink, FORWARD_TO=OWNER, FALLBACK_TO=f"{OWNER},{ONCALL}",
        FALLBACK_AFTER_SECONDS="60",
    )  # fmt: skip
    world.slack.error = "Slack unreachable: ConnectError"
    world.text("hello")
    world.run(120)
    forward, fallback = world.mails()
    assert forward.rcpt_tos == (OWNER,) and fallback.rcpt_tos == (ONCALL,)
    assert "Slack cannot be reached (ConnectError)" in fallback.part("plain")
    assert forward.message["References"] == fallback.message["References"]


def test_a_stop_from_someone_without_a_thread_is_forwarded_without_a_link(world: World) -> None:
    world.text("STOP")
    world.run(10)
    [mail] = world.mails()
    assert "texted STOP: now unsubscribed from SMS" in mail.part("plain")
    assert "Slack" not in mail.part("plain").split("Answer in the Slack thread")[0]
    assert world.links.asked == []
