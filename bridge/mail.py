"""Mail over SMTP: the server `SMTP_URL` names, MIME messages that thread, sending with timeouts.

Only the standard library: `email` builds the messages, `smtplib` sends them. Nothing here
logs or repeats the SMTP password; errors carry the server's answer, never our credentials.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import ipaddress
import re
import smtplib
import socket
import ssl
import threading
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol
from urllib.parse import unquote, urlsplit

from bridge.pacing import backoff_seconds
from bridge.ports import PermanentFailure, ServiceUnavailable

# Every SMTP socket operation (connect, TLS handshake, each command) gives up after this.
SMTP_TIMEOUT_SECONDS = 20.0
_DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
_URL_HINT = "expected smtp://user:pass@host:port or smtps://user:pass@host:port"
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDR_SPEC = re.compile(rf"(?P<local>{_LOCAL})@(?P<domain>{_LABEL}(?:\.{_LABEL})*)")
_MAILBOX = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<addr>[^<>]*)>")
_HEADER_LIMIT = 200


class MailUnavailable(ServiceUnavailable):
    """The mail server did not take a message this time (down, busy, 4xx); try again later."""


class MailRefused(PermanentFailure):
    """The mail server refused a message for good (5xx): sending it again cannot help."""


# -- addresses -------------------------------------------------------------------------------


def addr_spec(raw: str) -> str:
    """`raw` as a bare address (`shop@example.com`); ValueError when it is not one.

    Deliberately strict: ASCII, a dot-atom local part, a host name as domain. Anything a
    header or an SMTP command could be tricked with (spaces, CR/LF, quotes, `<>`) fails.
    """
    match = _ADDR_SPEC.fullmatch(raw)
    if match is None or len(raw) > 254:
        raise ValueError("expected an email address such as shop@example.com")
    return raw


def mailbox(raw: str) -> tuple[str, str]:
    """`Shop <shop@example.com>` or `shop@example.com` as (display name, address)."""
    text = raw.strip()
    match = _MAILBOX.fullmatch(text)
    if match is None:
        return "", addr_spec(text)
    name = match["name"].strip().strip('"').strip()
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise ValueError("the display name holds control characters")
    return name, addr_spec(match["addr"].strip())


def domain_of(address: str) -> str:
    """The domain of a mailbox or bare address."""
    return mailbox(address)[1].rpartition("@")[2].lower()


# -- the server ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SmtpServer:
    """Where and how to send: `smtp://` upgrades with STARTTLS when offered, `smtps://` is TLS."""

    host: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, raw: str) -> SmtpServer:
        """Parse `SMTP_URL`; a ValueError's message never contains the password."""
        try:
            parts = urlsplit(raw)
        except ValueError:
            raise ValueError(_URL_HINT) from None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS:
            raise ValueError(_URL_HINT)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError(
                f"{_URL_HINT}, with nothing after the port (percent-encode special characters "
                "in the user name and password, e.g. / as %2F and # as %23)"
            )
        host = parts.hostname
        if not host or any(char.isspace() for char in host):
            raise ValueError(f"{_URL_HINT}: the host is missing")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(
                "the port must be a number from 1 to 65535 (percent-encode special characters "
                "in the user name and password)"
            ) from None
        if port == 0:
            raise ValueError("the port must be a number from 1 to 65535")
        username = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password is not None else None
        if password and not username:
            raise ValueError(f"{_URL_HINT}: a password needs a user name")
        for value in (username, password):
            if value and any(char in value for char in "\r\n\0"):
                raise ValueError("the user name and password may not hold line breaks")
        return cls(
            host=host,
            port=port or _DEFAULT_PORTS[scheme],
            implicit_tls=scheme == "smtps",
            username=username,
            password=password,
        )

    def describe(self) -> str:
        """For people: `smtp.example.com:587 (STARTTLS when offered, with a login)`."""
        security = "TLS" if self.implicit_tls else "STARTTLS when offered"
        login = ", with a login" if self.username else ""
        return f"{self.host}:{self.port} ({security}{login})"

    @property
    def is_loopback(self) -> bool:
        """Whether the server is this machine (a local relay)."""
        if self.host.lower() == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


# -- building messages -----------------------------------------------------------------------


def header_text(value: str, limit: int = _HEADER_LIMIT) -> str:
    """Text safe for a header: control characters (CR, LF, tabs...) become spaces, one line."""
    cleaned = "".join(
        " " if unicodedata.category(char)[0] in "CZ" and char != " " else char for char in value
    )
    single = " ".join(cleaned.split())
    return single if len(single) <= limit else single[: limit - 1].rstrip() + "…"


def message_id(local: str, domain: str) -> str:
    """`<local@domain>` with `local` reduced to characters every mail system accepts."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", local).strip(".-") or "mail"
    return f"<{safe}@{domain}>"


def thread_root_id(key: str, domain: str) -> str:
    """A stable Message-ID for a conversation, used in `References` so its mails thread."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return message_id(f"contact.{digest}", domain)


@dataclass(frozen=True)
class Mail:
    """A mail to send; `thread_root` makes mail clients thread it with its conversation."""

    subject: str
    text: str
    html: str
    message_id: str
    thread_root: str | None = None


def build_message(mail: Mail, *, sender: str, to: Sequence[str], date: datetime) -> EmailMessage:
    """A multipart/alternative message (plain text and HTML, UTF-8) with threading headers."""
    message = EmailMessage(policy=policy.SMTP)
    name, address = mailbox(sender)
    message["From"] = Address(display_name=header_text(name), addr_spec=address)
    message["To"] = ", ".join(addr_spec(recipient) for recipient in to)
    message["Subject"] = header_text(mail.subject)
    message["Date"] = format_datetime(date)
    message["Message-ID"] = mail.message_id
    if mail.thread_root:
        message["In-Reply-To"] = mail.thread_root
        message["References"] = mail.thread_root
    # Robots, not people, sent this: out-of-office replies should not answer it.
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    # Quoted-printable: 7-bit clean for any server, and still readable in the raw.
    message.set_content(mail.text, charset="utf-8", cte="quoted-printable")
    message.add_alternative(mail.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


# -- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Receipt:
    """What the server said: its final answer, and recipients it refused (address: answer)."""

    reply: str
    accepted: tuple[str, ...]
    refused: dict[str, str]


class MailTransport(Protocol):
    """Sends a built message to envelope recipients."""

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> Receipt:
        """Send; MailUnavailable to try again later, MailRefused when it can never go."""


class SmtpMailer:
    """Sends over SMTP, one connection per message, every step under a timeout.

    After consecutive failures to reach the server it asks the worker to pause all mail for
    a growing while (`retry_after`): an unreachable server is not tried once per queued mail.
    """

    def __init__(
        self,
        server: SmtpServer,
        *,
        sender: str,
        timeout: float = SMTP_TIMEOUT_SECONDS,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.server = server
        self._envelope_sender = mailbox(sender)[1]
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._failures = 0
        self._lock = threading.Lock()

    def send(self, message: EmailMessage, recipients: Sequence[str]) -> Receipt:
        """Send `message` to `recipients`; see MailTransport."""
        data = message.as_bytes(policy=policy.SMTP)
        return self._run(lambda smtp: _transaction(smtp, self._envelope_sender, recipients, data))

    def probe(self) -> None:
        """Connect, upgrade to TLS and log in as a send would, then hang up (`smsbridge check`)."""
        self._run(lambda smtp: Receipt(accepted=(), refused={}, reply=""))

    def _run(self, work: Callable[[smtplib.SMTP], Receipt]) -> Receipt:
        try:
            with self._session() as smtp:
                receipt = work(smtp)
        except MailUnavailable as refused:
            raise self._failed(refused) from None
        except MailRefused:
            self._reset()  # the server is there; it refused this mail
            raise
        except smtplib.SMTPAuthenticationError as exc:
            reason = f"the mail server refused our login: {_answer(exc)}"
            raise self._failed(MailUnavailable(reason, configuration=True)) from None
        except smtplib.SMTPNotSupportedError:
            reason = "the mail server offers no login (AUTH): remove the user from SMTP_URL"
            raise self._failed(MailUnavailable(reason, configuration=True)) from None
        except smtplib.SMTPResponseException as exc:
            # Outside a transaction (greeting, EHLO, STARTTLS): about the server, not the mail.
            permanent = 500 <= exc.smtp_code < 600
            reason = f"the mail server answered {_answer(exc)}"
            raise self._failed(MailUnavailable(reason, configuration=permanent)) from None
        except smtplib.SMTPException as exc:
            reason = f"the mail server hung up ({type(exc).__name__})"
            raise self._failed(MailUnavailable(reason)) from None
        except ssl.SSLCertVerificationError as exc:
            reason = (
                f"the TLS certificate of {self.server.host} is not trusted: {exc.verify_message}"
            )
            raise self._failed(MailUnavailable(reason, configuration=True)) from None
        except OSError as exc:
            detail = exc.strerror or type(exc).__name__
            reason = f"mail server {self.server.host}:{self.server.port} unreachable: {detail}"
            raise self._failed(MailUnavailable(reason)) from None
        self._reset()
        return receipt

    def _reset(self) -> None:
        with self._lock:
            self._failures = 0

    def _failed(self, refused: MailUnavailable) -> MailUnavailable:
        with self._lock:
            self._failures += 1
            failures = self._failures
        return MailUnavailable(
            refused.reason,
            retry_after=backoff_seconds(failures - 1),
            configuration=refused.configuration,
        )

    @contextlib.contextmanager
    def _session(self) -> Iterator[smtplib.SMTP]:
        server = self.server
        context = self._ssl_context or ssl.create_default_context()
        local_name = socket.gethostname() or "localhost"
        smtp: smtplib.SMTP
        if server.implicit_tls:
            smtp = smtplib.SMTP_SSL(
                server.host,
                server.port,
                local_hostname=local_name,
                timeout=self._timeout,
                context=context,
            )
        else:
            smtp = smtplib.SMTP(
                server.host, server.port, local_hostname=local_name, timeout=self._timeout
            )
        try:
            smtp.ehlo_or_helo_if_needed()
            encrypted = server.implicit_tls
            if not encrypted and smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
                encrypted = True
            if server.username:
                if not encrypted and not server.is_loopback:
                    raise MailUnavailable(
                        f"{server.host} does not offer STARTTLS: not sending the password "
                        "unencrypted (use smtps:// or a server that offers STARTTLS)",
                        configuration=True,
                    )
                _login(smtp, server.username, server.password or "")
            yield smtp
        finally:
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib's login, but UTF-8 credentials too (RFC 4616 PLAIN), which it cannot send."""
    if (user + password).isascii():
        smtp.login(user, password)
        return
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("AUTH")
    if "PLAIN" not in smtp.esmtp_features["auth"].upper().split():
        raise MailUnavailable(
            "the user name or password is not ASCII, which needs AUTH PLAIN, and the mail "
            "server does not offer it",
            configuration=True,
        )
    blob = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode()
    code, answer = smtp.docmd("AUTH", f"PLAIN {blob}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


def _transaction(
    smtp: smtplib.SMTP, sender: str, recipients: Sequence[str], data: bytes
) -> Receipt:
    code, answer = smtp.mail(sender)
    if code != 250:
        smtp.rset()
        # Not about this mail: every mail waits until EMAIL_FROM or the account is fixed.
        permanent = 500 <= code < 600
        reason = f"the mail server refused the sender: {_text(code, answer)}"
        raise MailUnavailable(reason, configuration=permanent)
    refused: dict[str, str] = {}
    codes: list[int] = []
    for recipient in recipients:
        code, answer = smtp.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = _text(code, answer)
            codes.append(code)
    if len(refused) == len(recipients):
        smtp.rset()
        listed = "; ".join(f"{address}: {why}" for address, why in refused.items())
        if all(500 <= code < 600 for code in codes):
            raise MailRefused(f"the mail server refused every recipient: {listed}")
        raise MailUnavailable(f"the mail server refused every recipient for now: {listed}")
    try:
        code, answer = smtp.data(data)
    except smtplib.SMTPDataError as exc:
        raise _by_code(exc.smtp_code, _answer(exc), "refused the message") from None
    if code != 250:
        raise _by_code(code, _text(code, answer), "refused the message")
    accepted = tuple(r for r in recipients if r not in refused)
    return Receipt(reply=_text(code, answer), accepted=accepted, refused=refused)


def _by_code(code: int, answer: str, what: str) -> MailUnavailable | MailRefused:
    if 500 <= code < 600:
        return MailRefused(f"the mail server {what}: {answer}")
    return MailUnavailable(f"the mail server {what}: {answer}")


def _text(code: int, answer: bytes | str) -> str:
    raw = answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)
    return header_text(f"{code} {raw}", limit=300)


def _answer(exc: smtplib.SMTPResponseException) -> str:
    return _text(exc.smtp_code, exc.smtp_error)
