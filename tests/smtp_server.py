"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, on a port the OS picks.

It keeps what it receives, can answer RCPT or DATA with chosen failures, be taken down and
brought back on the same port, speak STARTTLS or implicit TLS with a throw-away certificate
authority (trustme), and require a login.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import quote

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    """One mail as the server took it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    tls: bool
    login: str | None

    @property
    def message(self) -> EmailMessage:
        """The parsed message."""
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def part(self, subtype: str) -> str:
        """The decoded text of the `text/<subtype>` part."""
        found = self.message.get_body(preferencelist=(subtype,))
        assert found is not None and found.get_content_subtype() == subtype
        return str(found.get_content()).replace("\r\n", "\n")


class Certificates:
    """A throw-away certificate authority and a certificate for 127.0.0.1 and localhost."""

    def __init__(self) -> None:
        self.ca = trustme.CA()
        self._cert = self.ca.issue_cert("127.0.0.1", "localhost")

    def server_context(self) -> ssl.SSLContext:
        """What the server presents."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts the throw-away authority (and nothing else)."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def ca_file(self, directory: Path) -> Path:
        """The authority's certificate as a PEM file (for SSL_CERT_FILE)."""
        path = directory / "test-ca.pem"
        self.ca.cert_pem.write_to_path(str(path))
        return path


class _Controller(Controller):
    """aiosmtpd's controller, on the port the OS picked when `port` is 0."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpSink:
    """The server; use as a context manager."""

    def __init__(
        self,
        *,
        certificates: Certificates | None = None,
        implicit_tls: bool = False,
        users: dict[str, str] | None = None,
    ) -> None:
        self.port = 0
        self.received: list[Received] = []
        self.logins: list[tuple[str, bool]] = []
        self.rcpt_answers: dict[str, str] = {}
        self.mail_from_answer: str | None = None
        self._data_answers: list[str] = []
        self._certificates = certificates
        self._implicit_tls = implicit_tls
        self._users = users
        self._lock = threading.Lock()
        self._controller: _Controller | None = None

    @property
    def tls_mode(self) -> str:
        """`smtps` for implicit TLS, else `smtp`."""
        return "smtps" if self._implicit_tls else "smtp"

    def url(self, user: str | None = None, password: str | None = None) -> str:
        """SMTP_URL for this server, with a login when given."""
        login = ""
        if user is not None:
            login = quote(user, safe="")
            if password is not None:
                login += ":" + quote(password, safe="")
            login += "@"
        return f"{self.tls_mode}://{login}127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        """Listen (on the same port again after a stop)."""
        kwargs: dict[str, Any] = {"server_hostname": "mail.test", "ready_timeout": 10}
        if self._certificates is not None:
            context = self._certificates.server_context()
            if self._implicit_tls:
                kwargs["ssl_context"] = context
            else:
                kwargs["tls_context"] = context
        if self._users is not None:
            kwargs["authenticator"] = self._authenticate
            # aiosmtpd only sees STARTTLS as TLS: over implicit TLS it must not insist.
            kwargs["auth_require_tls"] = self._certificates is not None and not self._implicit_tls
        # aiosmtpd warns about its own deprecated attribute on every login.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        controller = _Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)
        controller.start()
        self.port = controller.port
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until the next start."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def fail_data(self, answer: str, times: int = 1) -> None:
        """Answer the next `times` DATA commands with `answer` (e.g. `451 4.3.0 later`)."""
        with self._lock:
            self._data_answers.extend([answer] * times)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The mails received, once there are at least `count`."""
        self.wait_until(lambda: len(self.received) >= count, timeout)
        with self._lock:
            return list(self.received)

    def wait_until(self, condition: Callable[[], bool], timeout: float = 10.0) -> None:
        """Poll `condition` until it holds; fail the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; received {len(self.received)} mail(s)")
            time.sleep(0.02)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self._users is not None
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = data.login.decode(), data.password.decode()
        ok = self._users.get(user) == password
        with self._lock:
            self.logins.append((user, ok))
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    def _take_data_answer(self) -> str | None:
        with self._lock:
            return self._data_answers.pop(0) if self._data_answers else None

    def _keep(self, received: Received) -> int:
        with self._lock:
            self.received.append(received)
            return len(self.received)


class _Handler:
    """aiosmtpd's hooks, recording into the sink."""

    def __init__(self, sink: SmtpSink) -> None:
        self._sink = sink

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self._sink.mail_from_answer is not None:
            return self._sink.mail_from_answer
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        answer = self._sink.rcpt_answers.get(address)
        if answer is not None:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        answer = self._sink._take_data_answer()
        if answer is not None:
            return answer
        assert isinstance(envelope.content, bytes) and envelope.mail_from is not None
        transport = server.transport
        tls = transport is not None and transport.get_extra_info("cipher") is not None
        login = session.auth_data if isinstance(session.auth_data, str) else None
        number = self._sink._keep(
            Received(envelope.mail_from, tuple(envelope.rcpt_tos), envelope.content, tls, login)
        )
        return f"250 2.0.0 Ok: queued as Q{number:04d}"
