"""Sending to a real SMTP server on 127.0.0.1: plain, STARTTLS, implicit TLS, login, refusals."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from datetime import UTC, datetime

import pytest

from bridge.mail import (
    Mail,
    MailRefused,
    MailUnavailable,
    SmtpMailer,
    SmtpServer,
    build_message,
)
from tests.smtp_server import Certificates, SmtpSink

SENDER = "Shop <shop@shop.test>"
OWNER = "owner@shop.test"
PASSWORD = "s3cret-pässword"


@pytest.fixture(scope="module")
def certificates() -> Certificates:
    return Certificates()


def a_message(to: tuple[str, ...] = (OWNER,)) -> tuple[Mail, list[str]]:
    mail = Mail("Héllo 🎉", "Grüße 🎉", "<p>Grüße 🎉</p>", "<t.1@shop.test>", "<c.1@shop.test>")
    return mail, list(to)


def send(
    mailer: SmtpMailer, to: tuple[str, ...] = (OWNER,)
) -> tuple[str, dict[str, str], tuple[str, ...]]:
    mail, recipients = a_message(to)
    message = build_message(mail, sender=SENDER, to=recipients, date=datetime.now(UTC))
    receipt = mailer.send(message, recipients)
    return receipt.reply, receipt.refused, receipt.accepted


def mailer_for(
    url: str, certificates: Certificates | None = None, timeout: float = 5.0
) -> SmtpMailer:
    context = certificates.client_context() if certificates else None
    return SmtpMailer(SmtpServer.from_url(url), sender=SENDER, timeout=timeout, ssl_context=context)


def test_plain_smtp_delivers_the_message_as_built() -> None:
    with SmtpSink() as sink:
        reply, refused, accepted = send(mailer_for(sink.url()))
        [got] = sink.received
    assert reply == "250 2.0.0 Ok: queued as Q0001" and refused == {} and accepted == (OWNER,)
    assert got.mail_from == "shop@shop.test" and got.rcpt_tos == (OWNER,)
    assert got.message["Subject"] == "Héllo 🎉" and got.part("plain") == "Grüße 🎉\n"
    assert not got.tls


def test_starttls_is_used_when_the_server_offers_it(certificates: Certificates) -> None:
    with SmtpSink(certificates=certificates) as sink:
        send(mailer_for(sink.url(), certificates))
        [got] = sink.received
    assert got.tls


def test_implicit_tls_with_smtps(certificates: Certificates) -> None:
    with SmtpSink(certificates=certificates, implicit_tls=True) as sink:
        assert sink.url().startswith("smtps://")
        send(mailer_for(sink.url(), certificates))
        [got] = sink.received
    assert got.tls


@pytest.mark.parametrize("implicit", [False, True])
def test_login_over_tls(certificates: Certificates, implicit: bool) -> None:
    users = {"me@shop.test": PASSWORD}
    with SmtpSink(certificates=certificates, implicit_tls=implicit, users=users) as sink:
        send(mailer_for(sink.url("me@shop.test", PASSWORD), certificates))
        [got] = sink.received
    assert got.tls and got.login == "me@shop.test"
    assert sink.logins == [("me@shop.test", True)]


def test_a_wrong_password_is_a_configuration_problem_that_names_no_password(
    certificates: Certificates,
) -> None:
    with SmtpSink(certificates=certificates, users={"me@shop.test": PASSWORD}) as sink:
        mailer = mailer_for(sink.url("me@shop.test", "wrong-" + PASSWORD), certificates)
        with pytest.raises(MailUnavailable) as refused:
            send(mailer)
        assert sink.received == []
    assert refused.value.configuration and "535" in refused.value.reason
    assert "pässword" not in refused.value.reason and "wrong" not in refused.value.reason
    assert refused.value.retry_after is not None


def test_an_untrusted_certificate_is_not_accepted(certificates: Certificates) -> None:
    with SmtpSink(certificates=certificates, implicit_tls=True) as sink:
        untrusting = ssl.create_default_context()  # the system's authorities only
        mailer = SmtpMailer(SmtpServer.from_url(sink.url()), sender=SENDER, ssl_context=untrusting)
        with pytest.raises(MailUnavailable) as refused:
            send(mailer)
        assert sink.received == []
    assert refused.value.configuration and "not trusted" in refused.value.reason


def test_no_password_goes_unencrypted_to_a_remote_server(monkeypatch: pytest.MonkeyPatch) -> None:
    with SmtpSink(users={"me@shop.test": PASSWORD}) as sink:
        server = SmtpServer.from_url(sink.url("me@shop.test", PASSWORD))
        # The same server, as if it were elsewhere: no STARTTLS on offer, so no login.
        monkeypatch.setattr(SmtpServer, "is_loopback", property(lambda _: False))
        with pytest.raises(MailUnavailable, match="does not offer STARTTLS") as refused:
            send(SmtpMailer(server, sender=SENDER))
        assert sink.logins == [] and sink.received == []
    assert refused.value.configuration


def test_a_server_that_is_down_is_unavailable_and_pauses_mail_longer_each_time() -> None:
    sink = SmtpSink().start()
    url = sink.url()
    sink.stop()
    mailer = mailer_for(url)
    waits = []
    for _ in range(4):
        with pytest.raises(MailUnavailable, match="unreachable") as refused:
            send(mailer)
        assert not refused.value.configuration and refused.value.retry_after is not None
        waits.append(refused.value.retry_after)
    assert waits[-1] > waits[0]
    with SmtpSink() as back:
        send(mailer_for(back.url()))
        assert len(back.received) == 1


def test_a_server_that_never_answers_times_out() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    try:
        port = listener.getsockname()[1]
        mailer = mailer_for(f"smtp://127.0.0.1:{port}", timeout=0.5)
        started = time.monotonic()
        with pytest.raises(MailUnavailable):
            send(mailer)
        assert time.monotonic() - started < 5
    finally:
        listener.close()


def test_every_recipient_refused_with_5xx_is_final() -> None:
    with SmtpSink() as sink:
        sink.rcpt_answers[OWNER] = "550 5.1.1 <owner@shop.test>: no such user"
        with pytest.raises(MailRefused, match=r"550 5\.1\.1") as refused:
            send(mailer_for(sink.url()))
        assert sink.received == []
    assert OWNER in refused.value.reason


def test_a_4xx_for_a_recipient_is_tried_again() -> None:
    with SmtpSink() as sink:
        sink.rcpt_answers[OWNER] = "450 4.2.1 mailbox busy"
        with pytest.raises(MailUnavailable, match="450"):
            send(mailer_for(sink.url()))


def test_some_recipients_refused_are_reported_and_the_rest_get_it() -> None:
    with SmtpSink() as sink:
        sink.rcpt_answers["gone@shop.test"] = "550 5.1.1 no such user"
        _, refused, accepted = send(mailer_for(sink.url()), to=(OWNER, "gone@shop.test"))
        [got] = sink.received
    assert accepted == (OWNER,) and got.rcpt_tos == (OWNER,)
    assert refused == {"gone@shop.test": "550 5.1.1 no such user"}


@pytest.mark.parametrize(
    ("answer", "error"),
    [("451 4.3.0 try again later", MailUnavailable), ("554 5.7.1 spam", MailRefused)],
)
def test_the_message_itself_refused(answer: str, error: type[Exception]) -> None:
    with SmtpSink() as sink:
        sink.fail_data(answer)
        with pytest.raises(error, match=answer.split()[0]):
            send(mailer_for(sink.url()))


def test_one_mailer_can_send_from_several_threads() -> None:
    with SmtpSink() as sink:
        mailer = mailer_for(sink.url())
        threads = [threading.Thread(target=send, args=(mailer,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        sink.wait_for(4)


def test_a_refused_sender_waits_for_the_configuration_to_be_fixed() -> None:
    with SmtpSink() as sink:
        sink.mail_from_answer = "553 5.7.1 sender not allowed"
        with pytest.raises(MailUnavailable, match="refused the sender: 553") as refused:
            send(mailer_for(sink.url()))
    assert refused.value.configuration
