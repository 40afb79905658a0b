"""End to end: keywords, the consent ledger, automatic texts, Slack's consent buttons, import."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.blocks import CONSENT_HISTORY, MARK_UNSUBSCRIBED
from bridge.cli import main
from store.models import ConsentChange, Contact
from tests.conftest import BUSINESS, CHANNEL
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import texts_in, wait_for_thread
from tests.live import ADMIN, ALICE, MEMBER, Bridge, bridges

SHOP = {"ORGANIZATION_PREFIX": "Acme", "SUPPORT_EMAIL": "help@acme.test"}


@pytest.fixture
def start(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator
) -> Iterator[Callable[..., Bridge]]:
    with bridges(tmp_path, slack, twilio_api, **SHOP) as boot:
        yield boot


@pytest.fixture
def bridge(start: Callable[..., Bridge]) -> Bridge:
    return start()


def _ledger(bridge: Bridge) -> list[tuple[str, str, str, str | None]]:
    with bridge.database() as session:
        query = select(ConsentChange).order_by(col(ConsentChange.id))
        return [(c.previous, c.consent, c.source, c.detail) for c in session.exec(query)]


def _consent(bridge: Bridge, phone: str = ALICE) -> str:
    with bridge.database() as session:
        return session.exec(select(Contact).where(Contact.phone == phone)).one().consent


def _header(bridge: Bridge, thread: str) -> str:
    return str((bridge.slack.message(CHANNEL, thread) or {}).get("blocks"))


def _events(bridge: Bridge, thread: str) -> list[str]:
    return [t for t in texts_in(bridge.slack, thread) if t.startswith(":information_source:")]


@pytest.mark.parametrize(
    "word", ["STOP", "Stop.", " stop ", "STOP!", "unsubscribe", "\uff33\uff34\uff2f\uff30"]
)
def test_an_opt_out_keyword_unsubscribes_at_once_with_an_event_and_a_new_header(
    start: Callable[..., Bridge], word: str
) -> None:
    bridge = start(AUTORESPOND="off")
    bridge.text("Hi there")
    [parent] = wait_for_thread(bridge.slack, replies=1)
    bridge.text(word)
    bridge.slack.wait_for(lambda: "Unsubscribed" in _header(bridge, parent["ts"]), 10)
    assert _consent(bridge) == "unsubscribed"
    [event] = _events(bridge, parent["ts"])
    assert "unsubscribed" in event and "Texted" in event
    assert "texted" in _header(bridge, parent["ts"])
    [entry] = _ledger(bridge)
    assert entry[:3] == ("never_subscribed", "unsubscribed", "keyword")
    assert bridge.twilio_api.sent == []  # Twilio and the carrier confirm an opt-out, not us
    assert texts_in(bridge.slack, parent["ts"])[0] == "Hi there"


@pytest.mark.parametrize("word", ["START", "yes", "Unstop!"])
def test_an_opt_in_keyword_subscribes_and_is_confirmed(bridge: Bridge, word: str) -> None:
    bridge.text(word)
    bridge.slack.wait_for(lambda: len(bridge.twilio_api.sent) == 1, 10)
    [sms] = bridge.twilio_api.sent
    assert sms["to"] == ALICE and sms["from"] == BUSINESS
    assert sms["body"].startswith("Acme: You are subscribed")
    assert _consent(bridge) == "subscribed"
    assert bridge.slack.top_level(CHANNEL) == []  # a keyword opens no thread


@pytest.mark.parametrize("word", ["HELP", "info?"])
def test_help_is_answered_with_the_help_text(bridge: Bridge, word: str) -> None:
    bridge.text(word)
    bridge.slack.wait_for(lambda: len(bridge.twilio_api.sent) == 1, 10)
    assert bridge.twilio_api.sent[0]["body"] == (
        "Acme: For help, reach us at help@acme.test. Reply STOP to unsubscribe. "
        "Msg & data rates may apply."
    )
    assert _consent(bridge) == "never_subscribed"


def test_twilio_opt_out_type_wins_and_its_own_answers_are_not_repeated(bridge: Bridge) -> None:
    bridge.text("Arrêt", OptOutType="STOP")
    bridge.text("aide", OptOutType="HELP")
    bridge.text("please", OptOutType="START")
    time.sleep(1.5)
    assert bridge.twilio_api.sent == []
    assert [(e[1], e[2], e[3]) for e in _ledger(bridge)] == [
        ("unsubscribed", "twilio-opt-out-type", "ARRÊT"),
        ("subscribed", "twilio-opt-out-type", "PLEASE"),
    ]


def test_the_autoresponder_answers_once_per_cooldown_and_shows_it(bridge: Bridge) -> None:
    bridge.text("Do you ship to Canada?")
    bridge.text("Hello?")
    [parent] = wait_for_thread(bridge.slack, replies=3)
    [sms] = bridge.twilio_api.sent
    assert sms["body"] == (
        "Acme: We are unable to respond as you have not consented to receive SMS. "
        "For help reach us at help@acme.test."
    )
    texts = texts_in(bridge.slack, parent["ts"])
    assert texts[0] == "Do you ship to Canada?"
    assert any("Answered automatically" in t and "unable to respond" in t for t in texts)
    time.sleep(1)
    assert len(bridge.twilio_api.sent) == 1


def test_the_autoresponder_answers_again_after_the_cooldown(
    start: Callable[..., Bridge],
) -> None:
    bridge = start(AUTORESPOND_COOLDOWN_HOURS="0.0003")  # about a second
    bridge.text("first")
    bridge.slack.wait_for(lambda: len(bridge.twilio_api.sent) == 1, 10)
    time.sleep(1.2)
    bridge.text("second")
    bridge.slack.wait_for(lambda: len(bridge.twilio_api.sent) == 2, 10)


def test_no_automatic_text_ever_reaches_someone_who_opted_out(
    start: Callable[..., Bridge],
) -> None:
    bridge = start(AUTORESPOND="all")
    bridge.text("STOP")
    bridge.text("why did you text me")
    bridge.text("HELP")
    wait_for_thread(bridge.slack, replies=1)
    time.sleep(1)
    assert bridge.twilio_api.sent == []


def test_a_waiting_reply_is_cancelled_by_stop_and_its_author_told(bridge: Bridge) -> None:
    # The customer gets the autoresponse, then opts in (a START sent before the autoresponder
    # has run makes it stay silent: they consented by then).
    bridge.text("Hi, is my order on its way?")
    bridge.slack.wait_for(lambda: len(bridge.twilio_api.sent) == 1, 10)  # the autoresponse
    bridge.text("START")
    [parent] = wait_for_thread(bridge.slack, replies=2)
    thread = str(parent["ts"])
    bridge.slack.wait_for(lambda: len(bridge.twilio_api.sent) == 2, 10)  # autoresponse, START
    bridge.twilio_api.fail("messages.create", status=503, code=20503, times=1000)
    ts = bridge.reply(thread, ADMIN, "We can offer a refund")
    bridge.slack.wait_for(lambda: len(bridge.twilio_api.calls_to("messages.create")) >= 3, 10)
    bridge.text("STOP")
    bridge.slack.wait_for(lambda: any(e["user"] == ADMIN for e in bridge.slack.ephemerals), 10)
    told = next(e["text"] for e in bridge.slack.ephemerals if e["user"] == ADMIN)
    assert "unsubscribed" in told
    bridge.wait_reaction(ts, "no_entry_sign")
    assert [m["body"] for m in bridge.twilio_api.sent][2:] == []


def _button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    """The button with `action_id` among a posted message's blocks."""
    return next(
        element
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
        if element["action_id"] == action_id
    )


def _click(bridge: Bridge, action_id: str, value: str, user: str, ts: str, thread: str) -> None:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": user, "username": "ann", "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": ts,
            "channel_id": CHANNEL,
            "is_ephemeral": False,
            "thread_ts": thread,
        },
        "trigger_id": "1.2.3",
        "channel": {"id": CHANNEL, "name": "sms-inbox"},
        "message": {"type": "message", "ts": ts, "thread_ts": thread, "text": ""},
        "response_url": "http://127.0.0.1:9/respond",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "action_ts": "1.2",
                "text": {"type": "plain_text", "text": "x"},
            }
        ],
    }
    assert bridge.events.interaction(payload).status_code == 200


def test_a_text_that_asks_to_stop_is_flagged_and_one_click_unsubscribes(
    start: Callable[..., Bridge],
) -> None:
    bridge = start(AUTORESPOND="off")
    bridge.text("please stop texting me")
    [parent] = wait_for_thread(bridge.slack, replies=1)
    [post] = bridge.slack.thread(CHANNEL, parent["ts"])
    assert "may be a request to stop" in str(post["blocks"])
    button = _button(post, MARK_UNSUBSCRIBED)
    assert _consent(bridge) == "never_subscribed"  # a person decides, not a guess
    _click(bridge, MARK_UNSUBSCRIBED, button["value"], MEMBER, post["ts"], parent["ts"])
    bridge.slack.wait_for(lambda: "Unsubscribed" in _header(bridge, parent["ts"]), 10)
    assert _ledger(bridge) == [("never_subscribed", "unsubscribed", "slack", None)]
    with bridge.database() as session:
        change = session.exec(select(ConsentChange)).one()
        assert change.actor == MEMBER and change.cause is not None
    bridge.slack.wait_for(lambda: any(f"<@{MEMBER}>" in e for e in _events(bridge, parent["ts"])))
    assert any(e["user"] == MEMBER for e in bridge.slack.ephemerals)


def test_consent_history_lists_every_change_for_who_asked(start: Callable[..., Bridge]) -> None:
    bridge = start(AUTORESPOND="off", OPT_IN_TEXT="")
    bridge.text("hello")
    bridge.text("START")
    bridge.text("STOP")
    bridge.text("START")
    [parent] = wait_for_thread(bridge.slack, replies=4)
    header = bridge.slack.message(CHANNEL, parent["ts"])
    assert header is not None
    button = _button(header, CONSENT_HISTORY)
    _click(bridge, CONSENT_HISTORY, button["value"], ADMIN, parent["ts"], "")
    bridge.slack.wait_for(lambda: bool(bridge.slack.ephemerals), 10)
    [shown] = bridge.slack.ephemerals
    assert shown["user"] == ADMIN
    lines = [line for line in shown["text"].splitlines() if line.startswith("•")]
    assert len(lines) == 3
    assert "subscribed (was unsubscribed), texted START" in lines[0]


def _cli(monkeypatch: pytest.MonkeyPatch, database_url: str, *args: str) -> int:
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("SLACK_BOT_TOKEN", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return main(list(args))


def test_import_keeps_good_rows_reports_bad_ones_and_exports_them(
    bridge: Bridge,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bridge.text("STOP", sender="+14155550111")  # opted out by the customer themselves
    bridge.slack.wait_for(lambda: bool(_ledger(bridge)), 10)
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text(
        "\ufeffphone;name;consent;timezone\n"
        "+14155550100;Ann Lee;subscribed;America/Los_Angeles\n"
        "(212) 555-0123;Bob;;\n"
        "12;Bad number;subscribed;\n"
        "+14155550102;Cid;maybe;\n"
        "+14155550103;Dee;unsubscribed;Mars/Olympus\n"
        "+1 415 555 0100;Ann again;;\n"
        "+14155550111;Eve;subscribed;\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    assert _cli(monkeypatch, bridge.database_url, "contacts", "import", str(csv_file)) == 0
    out, err = capsys.readouterr()
    assert "2 contacts created" in out
    assert "line 4: phone '12' is not a valid phone number" in err
    assert "line 5: consent 'maybe'" in err
    assert "line 6: timezone 'Mars/Olympus'" in err
    assert "line 7: duplicate of line 2" in err
    assert "line 8: not re-subscribed" in err and "START" in err
    assert _cli(monkeypatch, bridge.database_url, "contacts", "export") == 0
    exported = capsys.readouterr().out.splitlines()
    assert exported[0] == "phone,name,consent,timezone"
    assert "+14155550100,Ann Lee,subscribed,America/Los_Angeles" in exported
    assert "+12125550123,Bob,never_subscribed," in exported
    assert "+14155550111,Eve,unsubscribed," in exported
    assert [e for e in _ledger(bridge) if e[2] == "import"] == [
        ("never_subscribed", "subscribed", "import", None)
    ]


def test_reimport_updates_and_records_consent_changes(
    bridge: Bridge,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("phone,name,consent,timezone\n+14155550100,Ann,subscribed,\n")
    assert _cli(monkeypatch, bridge.database_url, "contacts", "import", str(csv_file)) == 0
    csv_file.write_text("phone,name,consent,timezone\n+14155550100,Ann B,unsubscribed,\n")
    assert _cli(monkeypatch, bridge.database_url, "contacts", "import", str(csv_file)) == 0
    assert "1 updated" in capsys.readouterr().out
    assert [e[:3] for e in _ledger(bridge)] == [
        ("never_subscribed", "subscribed", "import"),
        ("subscribed", "unsubscribed", "import"),
    ]


def test_a_file_without_a_phone_column_is_refused_whole(
    bridge: Bridge,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    csv_file = tmp_path / "contacts.csv"
    csv_file.write_text("number,name\n+14155550100,Ann\n")
    assert _cli(monkeypatch, bridge.database_url, "contacts", "import", str(csv_file)) == 1
    assert "no phone column" in capsys.readouterr().err
