"""`smsbridge check` against the emulators: what an operator reads, good and broken."""

from __future__ import annotations

import dataclasses
import io
import socket
from pathlib import Path

import pytest
import yaml

from bridge.check import run_check
from bridge.config import Settings
from store.engine import make_engine
from store.migrate import upgrade
from tests.conftest import AUTH_TOKEN, BUSINESS, CHANNEL, SIGNING_SECRET, SLACK_TOKEN
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import make_settings
from tests.smtp_server import SmtpSink
from tests.test_cli import smsbridge

PUBLIC = "https://sms.example.com"
WEBHOOK = f"{PUBLIC}/twilio/sms"
SECOND, SECOND_CHANNEL = "+15550002222", "C0SECOND"


class Checked:
    """What `smsbridge check` printed and how it exited."""

    def __init__(self, code: int, output: str) -> None:
        self.code = code
        self.output = output
        self.lines = output.splitlines()

    def problem(self, *words: str) -> str:
        """The one FIX line containing all `words` (fails when there is none)."""
        found = [
            line for line in self.lines if line.startswith("FIX") and all(w in line for w in words)
        ]
        assert len(found) == 1, f"no single FIX line with {words} in:\n{self.output}"
        return found[0]

    @property
    def problems(self) -> list[str]:
        return [line for line in self.lines if line.startswith("FIX")]


@pytest.fixture
def deployment(tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator) -> dict[str, str]:
    """A deployment where everything is right: the variables, a migrated database."""
    twilio_api.add_number(BUSINESS, sms_url=WEBHOOK)
    env = {"PUBLIC_URL": PUBLIC}
    engine = make_engine(make_settings(tmp_path, slack, twilio_api).database_url)
    upgrade(engine)
    engine.dispose()
    return env


def check(
    tmp_path: Path,
    slack: SlackEmulator,
    twilio_api: TwilioEmulator,
    env: dict[str, str],
    *,
    fix: bool = False,
) -> Checked:
    env = dict(env)
    database = env.pop("DATABASE_URL", None)
    settings: Settings = make_settings(tmp_path, slack, twilio_api, **env)
    if database:
        settings = dataclasses.replace(settings, database_url=database)
    out = io.StringIO()
    code = run_check(settings, fix=fix, out=out)
    output = out.getvalue()
    for secret in (SLACK_TOKEN, AUTH_TOKEN, SIGNING_SECRET):
        assert secret not in output
    return Checked(code, output)


def test_a_good_configuration_passes(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    done = check(tmp_path, slack, twilio_api, deployment)
    assert done.code == 0, done.output
    assert done.problems == []
    assert any("Example Workspace" in line and "@smsbridge" in line for line in done.lines)
    assert any(f"the bot is in #{CHANNEL.lower()} ({CHANNEL})" in line for line in done.lines)
    assert "ok    Slack: the token has every scope the manifest asks for" in done.lines
    assert any(f"{BUSINESS} sends incoming texts to {WEBHOOK}" in line for line in done.lines)
    assert any("answers and is migrated" in line for line in done.lines)
    assert done.lines[-1] == "All is well."


def test_a_refused_slack_token_names_its_fix(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    slack.token = "xoxb-another"
    done = check(tmp_path, slack, twilio_api, deployment)
    assert done.code == 1
    assert "Bot User OAuth Token" in done.problem("Slack", "invalid_auth")
    assert done.lines[-1] == "1 to fix."


def test_missing_scopes_are_named(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    slack.scopes = [s for s in slack.scopes if s not in ("usergroups:read", "reactions:write")]
    done = check(tmp_path, slack, twilio_api, deployment)
    assert done.code == 1
    line = done.problem("lacks the scopes")
    assert "reactions:write, usergroups:read" in line and "reinstall" in line


def test_the_bot_must_be_in_every_inbox_channel(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    slack.not_in_channels.add(CHANNEL)
    slack.missing_channels.add(SECOND_CHANNEL)
    twilio_api.add_number(SECOND, sms_url=WEBHOOK)
    env = {**deployment, "ROUTES": f"{SECOND}={SECOND_CHANNEL}"}
    done = check(tmp_path, slack, twilio_api, env)
    assert done.code == 1
    assert "/invite @smsbridge" in done.problem("not in", CHANNEL)
    assert "SLACK_CHANNEL/ROUTES" in done.problem(SECOND_CHANNEL, "not visible")
    assert len(done.problems) == 2


def test_refused_twilio_credentials(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    twilio_api.auth_token = "rotated"
    done = check(tmp_path, slack, twilio_api, deployment)
    assert done.code == 1
    assert "TWILIO_AUTH_TOKEN from the Twilio console" in done.problem("Twilio", "refused")


def test_a_number_that_is_not_on_the_account(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    env = {**deployment, "ROUTES": f"{SECOND}={CHANNEL}"}
    done = check(tmp_path, slack, twilio_api, env)
    assert done.code == 1
    assert "buy or port it" in done.problem(SECOND, "not a number on this Twilio account")


def test_a_webhook_pointing_elsewhere_is_fixed_with_fix(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    twilio_api.add_number(SECOND, sms_url="https://old.example.com/sms")
    env = {**deployment, "ROUTES": f"{SECOND}={CHANNEL}"}
    done = check(tmp_path, slack, twilio_api, env)
    line = done.problem(SECOND, "https://old.example.com/sms")
    assert "smsbridge check --fix" in line and WEBHOOK in line
    assert twilio_api.number(SECOND)["sms_url"] == "https://old.example.com/sms"  # type: ignore[index]

    fixed = check(tmp_path, slack, twilio_api, env, fix=True)
    assert fixed.code == 0, fixed.output
    assert any(f"{SECOND} now sends incoming texts to {WEBHOOK} (fixed)" in x for x in fixed.lines)
    number = twilio_api.number(SECOND)
    assert number is not None and (number["sms_url"], number["sms_method"]) == (WEBHOOK, "POST")
    assert check(tmp_path, slack, twilio_api, env).code == 0


def test_plain_http_public_url_outside_this_machine(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    twilio_api.add_number(BUSINESS, sms_url="http://sms.example.com/twilio/sms")
    done = check(tmp_path, slack, twilio_api, {"PUBLIC_URL": "http://sms.example.com"})
    assert "TLS proxy" in done.problem("PUBLIC_URL", "plain http")
    loopback = check(tmp_path, slack, twilio_api, {"PUBLIC_URL": "http://127.0.0.1:8000"})
    assert not any("PUBLIC_URL" in line for line in loopback.problems)


def test_without_public_url_no_webhook_is_judged_or_changed(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    twilio_api.add_number(SECOND, sms_url="https://old.example.com/sms")
    done = check(tmp_path, slack, twilio_api, {"ROUTES": f"{SECOND}={CHANNEL}"}, fix=True)
    assert done.code == 1
    assert "https://" in done.problem("PUBLIC_URL", "not set")
    assert len(done.problems) == 1
    assert any(f"{SECOND} is on the account (set PUBLIC_URL" in line for line in done.lines)
    number = twilio_api.number(SECOND)
    assert number is not None and number["sms_url"] == "https://old.example.com/sms"


def test_an_unmigrated_database(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    env = {**deployment, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"}
    done = check(tmp_path, slack, twilio_api, env)
    assert "smsbridge db upgrade" in done.problem("Database", "not at the newest schema")


def test_unreachable_services_say_which_and_why_without_a_traceback(tmp_path: Path) -> None:
    closed = _closed_port()
    env = {
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CHANNEL": CHANNEL,
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 31 + "1",
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": BUSINESS,
        "PUBLIC_URL": PUBLIC,
        "SLACK_API_URL": f"http://127.0.0.1:{closed}/api/",
        "TWILIO_API_URL": f"http://127.0.0.1:{closed}",
        "DATABASE_URL": f"postgresql+psycopg://smsbridge:db-secret@127.0.0.1:{closed}/smsbridge",
        "SMTP_URL": f"smtp://mailer:mail-secret@127.0.0.1:{closed}",
    }
    done = smsbridge(tmp_path, "check", **env)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr + done.stdout
    for secret in (SLACK_TOKEN, AUTH_TOKEN, SIGNING_SECRET, "db-secret", "mail-secret"):
        assert secret not in done.stderr + done.stdout
    checked = Checked(done.returncode, done.stdout)
    assert "SLACK_API_URL" in checked.problem("Slack", "cannot reach", "refused")
    assert "TWILIO_API_URL" in checked.problem("Twilio", "cannot reach")
    assert "DATABASE_URL" in checked.problem("Database", "does not answer")
    assert "SMTP_URL" in checked.problem("Email", "unreachable")
    assert len(checked.problems) == 4


def test_mail_server_that_answers(
    tmp_path: Path, slack: SlackEmulator, twilio_api: TwilioEmulator, deployment: dict[str, str]
) -> None:
    with SmtpSink() as sink:
        env = {**deployment, "SMTP_URL": sink.url(), "EMAIL_FROM": "sms@shop.test"}
        done = check(tmp_path, slack, twilio_api, env)
    assert done.code == 0, done.output
    assert any(line.startswith("ok    Email: 127.0.0.1:") for line in done.lines)
    assert sink.received == []  # a check sends no mail


def test_missing_variables_are_named(tmp_path: Path) -> None:
    done = smsbridge(tmp_path, "check", SLACK_BOT_TOKEN=SLACK_TOKEN)
    assert done.returncode == 1
    assert "SLACK_SIGNING_SECRET" in done.stdout and "Traceback" not in done.stderr


def test_manifest_fills_in_the_url(tmp_path: Path) -> None:
    done = smsbridge(tmp_path, "manifest", "--url", "https://sms.shop.test/")
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load(done.stdout)
    events = "https://sms.shop.test/slack/events"
    assert manifest["settings"]["event_subscriptions"]["request_url"] == events
    assert manifest["settings"]["interactivity"]["request_url"] == events
    for command in manifest["features"].get("slash_commands", []):
        assert command["url"] == events
    assert "example.com" not in done.stdout
    assert "# chat.postMessage" in done.stdout  # the reasons for the scopes are kept


@pytest.mark.parametrize("args", [[], ["--url"], ["--url", "sms.shop.test"], ["--url", "ftp://x"]])
def test_manifest_needs_a_url(tmp_path: Path, args: list[str]) -> None:
    done = smsbridge(tmp_path, "manifest", *args)
    assert done.returncode == 2
    assert "usage:" in done.stderr and "Traceback" not in done.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
