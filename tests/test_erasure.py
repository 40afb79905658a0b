"""`smsbridge contacts forget NUMBER` and RETENTION_DAYS: words and numbers go, opt-outs stay."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, select

from bridge.cli import main
from bridge.retention import purge
from store.engine import make_engine
from store.models import (
    ConsentChange,
    Contact,
    MediaItem,
    Message,
    OutboundSms,
    PrivacyLog,
    ReplyAudit,
)
from tests.conftest import CHANNEL, FakeClock
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import AppServer, Twilio, make_settings, wait_for_thread
from tests.live import ADMIN, ALICE, Bridge, bridges

SECRET_WORDS = "my address is 12 Elm Street"
REPLY_WORDS = "Thanks, parcel leaves today"


@pytest.fixture
def bridge(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> Iterator[Bridge]:
    env = {"AUTORESPOND": "non-consented", "OPT_IN_TEXT": ""}
    with bridges(tmp_path, slack, twilio_api, **env) as boot:
        yield boot()


def cli(monkeypatch: pytest.MonkeyPatch, database_url: str, *args: str) -> int:
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("SLACK_BOT_TOKEN", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return main(list(args))


def every_value(session: Session) -> list[str]:
    """Every value in every table, as text: what a copy of the database would show."""
    values = []
    for table in SQLModel.metadata.sorted_tables:
        for row in session.execute(table.select()):
            values += [str(v) for v in row if v is not None]
    return values


def test_forget_erases_words_number_and_profile_but_keeps_the_opt_out(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    thread = bridge.thread()
    bridge.text(SECRET_WORDS)
    bridge.reply(thread, ADMIN, REPLY_WORDS)
    # The reply has gone (an automatic answer to the first text may or may not have: the
    # customer's START, right behind it, can be applied before the autoresponder runs).
    bridge.slack.wait_for(lambda: REPLY_WORDS in bridge.sent_bodies(), timeout=10)
    bridge.text("STOP")
    bridge.slack.wait_for(lambda: len(bridge.slack.thread(CHANNEL, thread)) >= 5, timeout=10)
    with bridge.database() as session:
        # A picture the customer sent, as issue 8 keeps it (uploaded, and served by a token).
        [words] = session.exec(select(Message).where(Message.body == SECRET_WORDS)).all()
        session.add(
            MediaItem(
                message_id=words.id or 0,
                direction="inbound",
                source_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
                filename="4155550100-parcel.jpg",
                content_type="image/jpeg",
                content=SECRET_WORDS.encode(),
                token="t" * 43,
                state="done",
            )
        )
        session.commit()
        ledger = len(session.exec(select(ConsentChange)).all())
        audit = len(session.exec(select(ReplyAudit)).all())
        assert any("4155550100" in v for v in every_value(session))

    assert cli(monkeypatch, bridge.database_url, "contacts", "forget", ALICE, "--by", "dpo") == 0
    said = capsys.readouterr().out
    assert said.startswith("Forgot +1********00") and "4155550100" not in said

    with bridge.database() as session:
        values = every_value(session)
        for personal in ("4155550100", SECRET_WORDS, REPLY_WORDS, "Hi, is my order", "t" * 43):
            assert not [v for v in values if personal in v], personal
        assert session.exec(select(MediaItem)).all() == []
        # The evidence stays: who opted in and out when, and every reply decision.
        assert len(session.exec(select(ConsentChange)).all()) == ledger
        assert len(session.exec(select(ReplyAudit)).all()) == audit
        [contact] = session.exec(select(Contact)).all()
        assert contact.consent == "unsubscribed" and contact.name is None
        [entry] = session.exec(select(PrivacyLog)).all()
        assert (entry.action, entry.actor, entry.contact_id) == ("forget", "dpo", contact.id)

    # The thread's header no longer shows who it was.
    def header_erased() -> bool:
        header = bridge.slack.message(CHANNEL, thread)
        return header is not None and "415" not in str(header["text"])

    bridge.slack.wait_for(header_erased, timeout=10)
    # They text again: a new contact, still opted out, so not even the autoresponder answers.
    sent_before = len(bridge.twilio_api.sent)
    bridge.text("hello again")
    bridge.slack.wait_for(lambda: len(bridge.slack.top_level(CHANNEL)) == 2, timeout=10)
    with bridge.database() as session:
        again = session.exec(select(Contact).where(Contact.phone == ALICE)).one()
        assert again.consent == "unsubscribed"
    header = bridge.slack.top_level(CHANNEL)[-1]
    assert "Unsubscribed from SMS" in header["text"]
    assert len(bridge.twilio_api.sent) == sent_before


def test_an_import_cannot_subscribe_a_forgotten_opted_out_number(
    bridge: Bridge,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    bridge.text("hello")
    bridge.text("STOP")
    wait_for_thread(bridge.slack, replies=2)
    assert cli(monkeypatch, bridge.database_url, "contacts", "forget", "(415) 555-0100") == 0
    capsys.readouterr()
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("phone,name,consent\n+14155550100,Alice,subscribed\n+14155550199,Bo,\n")
    assert cli(monkeypatch, bridge.database_url, "contacts", "import", str(csv_file)) == 0
    errors = capsys.readouterr().err
    assert "line 2: not subscribed: this number was forgotten after the customer opted out" in (
        errors
    )
    with bridge.database() as session:
        phones = {c.phone for c in session.exec(select(Contact))}
    assert ALICE not in phones and "+14155550199" in phones


def test_forget_of_an_unknown_number_says_so(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(monkeypatch, bridge.database_url, "contacts", "forget", "+14155550999") == 1
    assert "no contact with the number +14155550999" in capsys.readouterr().err


def test_retention_empties_old_words_and_keeps_keyword_texts(engine: Engine) -> None:
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    old, recent = now - timedelta(days=31), now - timedelta(days=29)
    with Session(engine) as session:
        contact = Contact(phone="+14155550100", created_at=old)
        session.add(contact)
        session.flush()
        assert contact.id is not None

        def message(body: str, at: datetime, kind: str = "text") -> Message:
            row = Message(
                contact_id=contact.id or 0,
                direction="inbound",
                kind=kind,
                body=body,
                from_number=contact.phone,
                to_number="+15550001111",
                status="posted",
                created_at=at,
                updated_at=at,
            )
            session.add(row)
            session.flush()
            return row

        gone, stop = message("old words", old), message("STOP", old, "keyword")
        kept = message("recent words", recent)
        reply = message("old reply", old, "reply")
        session.add(
            OutboundSms(
                message_id=reply.id or 0,
                body="old reply",
                to_number=contact.phone,
                from_number="+15550001111",
                status="delivered",
                created_at=old,
            )
        )
        old_picture = MediaItem(
            message_id=gone.id or 0,
            direction="inbound",
            source_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
            filename="parcel.jpg",
            content=b"jpeg bytes",
            token="t" * 43,
            state="done",
            created_at=old,
        )
        session.add(old_picture)
        session.commit()
        done = purge(session, days=30, at=now)
        session.commit()
        assert (done.messages, done.parts, done.media) == (2, 1, 1)
        session.refresh(old_picture)
        assert (old_picture.content, old_picture.source_url, old_picture.token) == (None,) * 3
        bodies = {m.id: m.body for m in session.exec(select(Message))}
        assert bodies == {gone.id: "", stop.id: "STOP", kept.id: "recent words", reply.id: ""}
        assert session.exec(select(OutboundSms)).one().body == ""
        [entry] = session.exec(select(PrivacyLog)).all()
        assert entry.action == "retention" and entry.actor == "RETENTION_DAYS=30"
        # Nothing left to purge: nothing logged.
        assert purge(session, days=30, at=now).messages == 0
        session.commit()
        assert len(session.exec(select(PrivacyLog)).all()) == 1


def test_the_erasure_log_is_append_only(engine: Engine) -> None:
    with Session(engine) as session:
        session.add(PrivacyLog(action="forget", actor="dpo", detail="x", at=datetime.now(UTC)))
        session.commit()
    for statement in ("UPDATE privacy_log SET actor = 'someone'", "DELETE FROM privacy_log"):
        with engine.connect() as connection, pytest.raises(DBAPIError):
            connection.execute(text(statement))


def test_the_service_purges_at_start_when_retention_days_is_set(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    clock = FakeClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    settings = make_settings(tmp_path, slack, AUTORESPOND="off")
    server = AppServer(settings, clock=clock).start()
    try:
        assert Twilio(server.url, server.url).text(1, SECRET_WORDS).status_code == 200
        wait_for_thread(slack, replies=1)
    finally:
        server.stop()
    clock.advance(timedelta(days=8).total_seconds())
    later = make_settings(tmp_path, slack, AUTORESPOND="off", RETENTION_DAYS="7")
    server = AppServer(later, clock=clock).start()
    engine = make_engine(later.database_url)
    try:

        def purged() -> bool:
            with Session(engine) as session:
                return session.exec(select(Message)).one().body == ""

        slack.wait_for(purged, timeout=10, interval=0.1)
    finally:
        engine.dispose()
        server.stop()
