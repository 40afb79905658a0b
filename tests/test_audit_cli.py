"""`smsbridge audit`: who sent, was refused, overrode quiet hours, changed consent, erased."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from bot.blocks import SEND_HELD_NOW
from bridge.audit_cli import parse_since
from bridge.cli import main
from store.models import Message
from tests.conftest import CHANNEL, FakeClock
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.live import ADMIN, ALICE, MEMBER, Bridge, bridges
from tests.test_forged_buttons import press

EARLY = datetime(2026, 1, 12, 13, 2, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(EARLY)


@pytest.fixture
def bridge(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, clock: FakeClock
) -> Iterator[Bridge]:
    env = {"QUIET_HOURS": "08:00-21:00", "AUTORESPOND": "off"}
    with bridges(tmp_path, slack, twilio_api, **env) as boot:
        yield boot(clock=clock)


def run(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    database_url: str,
    *args: str,
) -> tuple[int, str]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("SLACK_BOT_TOKEN", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    code = main(list(args))
    return code, capsys.readouterr().out


def rows(output: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(output)))


def test_the_audit_lists_every_decision_with_who_and_when(
    bridge: Bridge,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    thread = bridge.thread()
    bridge.wait_sent(1)  # the START confirmation
    clock.advance(60)
    held_ts = bridge.reply(thread, ADMIN, "It ships today")
    bridge.wait_reaction(held_ts, "hourglass_flowing_sand")
    with bridge.database() as session:
        held = session.exec(select(Message).where(Message.slack_ts == held_ts)).one()
    clock.advance(60)
    bridge.events.interaction(press(ADMIN, SEND_HELD_NOW, str(held.id), thread))
    bridge.wait_sent(2)
    clock.advance(60)
    bridge.reply(thread, MEMBER, "I can answer too")
    bridge.slack.wait_for(lambda: any(e["user"] == MEMBER for e in bridge.slack.ephemerals))
    clock.advance(60)
    bridge.text("STOP")
    bridge.slack.wait_for(lambda: len(bridge.slack.thread(CHANNEL, thread)) >= 6, timeout=10)

    code, out = run(monkeypatch, capsys, bridge.database_url, "audit", "--csv")
    assert code == 0
    events = [(r["event"], r["who"]) for r in rows(out)]
    assert events == [
        ("consent change", "customer"),
        ("send", "smsbridge"),
        ("held", ADMIN),
        ("override", ADMIN),
        ("send approved", ADMIN),
        ("send", ADMIN),
        ("refusal", MEMBER),
        ("consent change", "customer"),
    ]
    assert {r["contact"] for r in rows(out)} == {"+1 415-555-0100"}
    minutes = [r["when (UTC)"][11:16] for r in rows(out)]
    assert minutes == ["13:02", "13:02", "13:03", "13:04", "13:04", "13:04", "13:05", "13:06"]
    override = rows(out)[3]
    assert "quiet hours overridden" in override["detail"]

    code, out = run(monkeypatch, capsys, bridge.database_url, "contacts", "forget", ALICE)
    assert code == 0
    code, out = run(
        monkeypatch, capsys, bridge.database_url, "audit", "--csv", "--since", "2026-06-01"
    )
    [erasure] = rows(out)
    assert erasure["event"] == "erasure (forget)" and erasure["who"].startswith("cli:")
    assert erasure["contact"].startswith("erased:")

    code, table = run(monkeypatch, capsys, bridge.database_url, "audit")
    lines = table.splitlines()
    assert lines[0].split() == ["when", "(UTC)", "event", "who", "contact", "detail"]
    assert len(lines) == 10 and "4155550100" not in table


def test_the_audit_of_one_contact_and_its_refusals(
    bridge: Bridge, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bridge.thread()
    bridge.text("hello", sender="+14155550188")
    bridge.slack.wait_for(lambda: len(bridge.slack.top_level(CHANNEL)) == 2, timeout=10)
    code, out = run(
        monkeypatch, capsys, bridge.database_url, "audit", "--csv", "--contact", "4155550188"
    )
    assert code == 0 and rows(out) == []  # texted, never subscribed: nothing audited yet
    code, out = run(monkeypatch, capsys, bridge.database_url, "audit", "--csv", "--contact", ALICE)
    assert [r["event"] for r in rows(out)] == ["consent change", "send"]
    code, _ = run(monkeypatch, capsys, bridge.database_url, "audit", "--contact", "+1999")
    assert code == 1
    code, _ = run(monkeypatch, capsys, bridge.database_url, "audit", "--since", "last week")
    assert code == 2


def test_since_reads_dates_times_and_spans() -> None:
    now = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)
    assert parse_since("2026-03-01", now) == datetime(2026, 3, 1, tzinfo=UTC)
    assert parse_since("2026-03-01T14:00+01:00", now) == datetime(2026, 3, 1, 13, tzinfo=UTC)
    assert parse_since("7d", now) == datetime(2026, 3, 5, 18, 0, tzinfo=UTC)
    assert parse_since("30m", now) == datetime(2026, 3, 12, 17, 30, tzinfo=UTC)
    assert parse_since("soon", now) is None
