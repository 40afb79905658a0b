"""Mail settings: malformed values stop start-up with one line; `smsbridge email test`."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.config import ConfigError, load_settings
from bridge.forwarding import mail_sender
from tests.conftest import base_env
from tests.smtp_server import Certificates, SmtpSink
from tests.test_cli import smsbridge

PASSWORD = "hunter2-Secret"
MAIL = {"SMTP_URL": f"smtp://me:{PASSWORD}@mail.test:587", "EMAIL_FROM": "shop@shop.test"}


def settings_error(**env: str) -> str:
    with pytest.raises(ConfigError) as refused:
        load_settings(base_env(**env), env_file=None)
    return str(refused.value)


def test_mail_settings_load() -> None:
    settings = load_settings(
        base_env(**MAIL, FORWARD_TO=" owner@shop.test, ops@shop.test ", FALLBACK_AFTER_SECONDS="9"),
        env_file=None,
    )
    assert settings.forward_to == ("owner@shop.test", "ops@shop.test")
    assert settings.fallback_to == settings.forward_to  # FALLBACK_TO defaults to FORWARD_TO
    assert settings.fallback_after_seconds == 9
    assert PASSWORD not in repr(settings)
    separate = load_settings(
        base_env(**MAIL, FORWARD_TO="owner@shop.test", FALLBACK_TO="oncall@shop.test"),
        env_file=None,
    )
    assert separate.fallback_to == ("oncall@shop.test",)
    named = load_settings(
        base_env(**MAIL | {"EMAIL_FROM": "My <s@shop.test>", "FORWARD_TO": "Ann <a@shop.test>"}),
        env_file=None,
    )
    assert named.email_from == "My <s@shop.test>" and named.forward_to == ("a@shop.test",)


@pytest.mark.parametrize(
    "url",
    [
        f"smtp://me:{PASSWORD}@mail.test:port",
        f"smtpx://me:{PASSWORD}@mail.test",
        f"smtp://me:{PASSWORD}@",
        f"smtp://me:{PASSWORD[:4]}/{PASSWORD[4:]}@mail.test:25",
        f"smtp://me:{PASSWORD}@mail.test:25/inbox",
    ],
)
def test_a_malformed_smtp_url_names_the_variable_and_never_the_password(url: str) -> None:
    error = settings_error(SMTP_URL=url, EMAIL_FROM="shop@shop.test")
    assert error.startswith("SMTP_URL: ")
    assert PASSWORD not in error and PASSWORD[4:] not in error and "\n" not in error


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("EMAIL_FROM", "shop"),
        ("EMAIL_FROM", "Shop <shop@>"),
        ("FORWARD_TO", "owner@shop.test, not-an-address"),
        ("FORWARD_TO", "owner@shop.test\r\nBcc: victim@evil.test"),
        ("FALLBACK_TO", "oncall@@shop.test"),
    ],
)
def test_malformed_addresses_name_the_variable(name: str, value: str) -> None:
    error = settings_error(**{**MAIL, name: value})
    assert error.startswith(f"{name}: ") and "email address" in error


def test_a_negative_wait_is_refused() -> None:
    error = settings_error(**MAIL, FALLBACK_AFTER_SECONDS="-1")
    assert error.startswith("FALLBACK_AFTER_SECONDS: ")


@pytest.mark.parametrize(
    ("url", "sender"),
    [
        ("smtp://mail.test", "smsbridge@mail.test"),
        ("smtps://me%40shop.test:pw@mail.test", "me@shop.test"),
        ("smtp://apikey:pw@mail.test", "smsbridge@mail.test"),
    ],
)
def test_without_email_from_mail_comes_from_the_login_or_the_server(url: str, sender: str) -> None:
    settings = load_settings(base_env(SMTP_URL=url), env_file=None)
    assert mail_sender(settings) == sender
    assert mail_sender(load_settings(base_env(), env_file=None)) is None


def test_start_up_stops_with_one_line_and_no_password(tmp_path: Path) -> None:
    env = base_env(SMTP_URL=f"smtps://me:{PASSWORD}@mail.test:notaport", EMAIL_FROM="s@s.test")
    done = smsbridge(tmp_path, "serve", **env)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "SMTP_URL" in lines[0]
    assert PASSWORD not in done.stderr + done.stdout


def test_email_test_reports_what_the_server_said(tmp_path: Path) -> None:
    certificates = Certificates()
    users = {"me@shop.test": PASSWORD}
    with SmtpSink(certificates=certificates, users=users) as sink:
        env = {
            "SMTP_URL": sink.url("me@shop.test", PASSWORD),
            "EMAIL_FROM": "Shop <shop@shop.test>",
            "FORWARD_TO": "owner@shop.test",
            # The throw-away authority, as an operator would point at a private one.
            "SSL_CERT_FILE": str(certificates.ca_file(tmp_path)),
        }
        done = smsbridge(tmp_path, "email", "test", **env)
        assert done.returncode == 0, done.stderr
        assert "owner@shop.test" in done.stdout
        assert "The mail server said: 250 2.0.0 Ok: queued as Q0001" in done.stdout
        [got] = sink.received
        assert got.tls and got.login == "me@shop.test" and got.rcpt_tos == ("owner@shop.test",)
        assert got.message["Subject"] == "smsbridge test mail ✅"

        again = smsbridge(tmp_path, "email", "test", "--to", "ops@shop.test", **env)
        assert again.returncode == 0 and sink.received[-1].rcpt_tos == ("ops@shop.test",)

        wrong = {**env, "SMTP_URL": sink.url("me@shop.test", "not-" + PASSWORD)}
        refused = smsbridge(tmp_path, "email", "test", **wrong)
        assert refused.returncode == 1
        assert "refused our login: 535" in refused.stderr
        assert PASSWORD not in refused.stderr + refused.stdout

        sink.rcpt_answers["gone@shop.test"] = "550 5.1.1 no such user"
        gone = smsbridge(tmp_path, "email", "test", "--to", "gone@shop.test", **env)
        assert gone.returncode == 1 and "550 5.1.1 no such user" in gone.stderr


def test_email_test_without_mail_settings(tmp_path: Path) -> None:
    done = smsbridge(tmp_path, "email", "test")
    assert done.returncode == 2 and "SMTP_URL" in done.stderr
    done = smsbridge(tmp_path, "email", "test", **MAIL)
    assert done.returncode == 2 and "--to" in done.stderr
    done = smsbridge(tmp_path, "email", "test", "--to", "nobody", **MAIL)
    assert done.returncode == 2 and "email address" in done.stderr
