"""Mail building and the SMTP settings: MIME, threading headers, header injection, parsing."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from bridge.mail import (
    Mail,
    SmtpServer,
    addr_spec,
    build_message,
    domain_of,
    header_text,
    mailbox,
    message_id,
    thread_root_id,
)
from bridge.mail_content import Body, render_html, render_text

WHEN = datetime(2026, 3, 12, 18, 0, tzinfo=UTC)


def sent(
    mail: Mail, *, sender: str = "Shop <shop@shop.test>", to: tuple[str, ...] = ()
) -> EmailMessage:
    """The message as it goes over the wire, parsed back."""
    built = build_message(mail, sender=sender, to=to or ("owner@shop.test",), date=WHEN)
    parsed = message_from_bytes(built.as_bytes(policy=policy.SMTP), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def a_mail(**overrides: str) -> Mail:
    fields = {
        "subject": "SMS from Zoë (+1 415-555-0100) 🎉",
        "text": "Café crème? 😀\nLine two",
        "html": "<p>Café crème? 😀</p>",
        "message_id": "<text.SM1@shop.test>",
        "thread_root": "<contact.abc@shop.test>",
    }
    fields.update(overrides)
    return Mail(**fields)


def test_a_mail_has_plain_and_html_parts_in_utf8() -> None:
    message = sent(a_mail())
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(preferencelist=("plain",))
    rich = message.get_body(preferencelist=("html",))
    assert plain is not None and rich is not None
    assert plain.get_content_charset() == "utf-8" and rich.get_content_charset() == "utf-8"
    text = plain.get_content().replace("\r\n", "\n")
    assert text == "Café crème? 😀\nLine two\n"
    assert "Café crème? 😀" in rich.get_content()
    assert message["Subject"] == "SMS from Zoë (+1 415-555-0100) 🎉"
    assert str(message["From"]) == "Shop <shop@shop.test>"
    assert message["To"] == "owner@shop.test"
    assert message["Date"] is not None and message["Auto-Submitted"] == "auto-generated"


def test_the_wire_format_is_seven_bit_clean() -> None:
    built = build_message(a_mail(), sender="shop@shop.test", to=["o@shop.test"], date=WHEN)
    raw = built.as_bytes(policy=policy.SMTP)
    assert raw.isascii()
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_threading_headers_name_the_conversation_root() -> None:
    message = sent(a_mail())
    assert message["Message-ID"] == "<text.SM1@shop.test>"
    assert message["In-Reply-To"] == "<contact.abc@shop.test>"
    assert message["References"] == "<contact.abc@shop.test>"
    lone = sent(a_mail(), sender="shop@shop.test")
    assert lone["From"] == "shop@shop.test"


def test_a_conversation_root_is_stable_per_contact_and_private() -> None:
    one = thread_root_id("+14155550100", "shop.test")
    assert one == thread_root_id("+14155550100", "shop.test")
    assert one != thread_root_id("+14155550101", "shop.test")
    assert one.startswith("<contact.") and one.endswith("@shop.test>")
    assert "4155550100" not in one


def test_message_ids_keep_only_safe_characters() -> None:
    assert message_id("text.SM123", "shop.test") == "<text.SM123@shop.test>"
    assert message_id("a b<c>@\r\nd", "shop.test") == "<a-b-c----d@shop.test>"


@pytest.mark.parametrize(
    "subject",
    [
        "hi\r\nBcc: victim@evil.test",
        "hi\nBcc: victim@evil.test",
        "hi\rBcc: victim@evil.test",
        "hi\u2028Bcc: victim@evil.test",
        "hi\x00\x0bBcc: victim@evil.test",
    ],
)
def test_line_breaks_in_a_subject_never_make_a_header(subject: str) -> None:
    message = sent(a_mail(subject=subject))
    assert message["Bcc"] is None
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["Subject"].startswith("hi") and "Bcc: victim@evil.test" in message["Subject"]
    assert not message.defects


def test_header_text_flattens_and_caps() -> None:
    assert header_text(" a\t\r\n b  c ") == "a b c"
    long = header_text("x" * 500, limit=50)
    assert len(long) == 50 and long.endswith("…")


def test_a_display_name_with_line_breaks_is_refused() -> None:
    with pytest.raises(ValueError, match="control characters"):
        mailbox("Shop\r\nBcc: victim@evil.test <shop@shop.test>")


@pytest.mark.parametrize(
    "good",
    ["shop@shop.test", "first.last+tag@mail.example.co.uk", "ops@localhost", "O'Neil@x.test"],
)
def test_good_addresses(good: str) -> None:
    assert addr_spec(good) == good


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "shop",
        "shop@",
        "@shop.test",
        "a@b@c.test",
        "shop @shop.test",
        "shop@shop.test\r\nBcc: victim@evil.test",
        "shop@shop.test>",
        "<shop@shop.test>",
        "shop@-shop.test",
        "shop@shop..test",
        ".shop@shop.test",
        "zoë@shop.test",
        "shop@shop.test,victim@evil.test",
    ],
)
def test_bad_addresses(bad: str) -> None:
    with pytest.raises(ValueError, match="email address"):
        addr_spec(bad)


def test_a_mailbox_is_a_name_and_an_address() -> None:
    assert mailbox("Shop <shop@shop.test>") == ("Shop", "shop@shop.test")
    assert mailbox('"Shop, Inc." <shop@shop.test>') == ("Shop, Inc.", "shop@shop.test")
    assert mailbox("shop@shop.test") == ("", "shop@shop.test")
    assert domain_of("Shop <shop@Shop.Test>") == "shop.test"


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "user", "password"),
    [
        ("smtp://mail.test", "mail.test", 25, False, None, None),
        ("smtps://mail.test", "mail.test", 465, True, None, None),
        ("smtp://u:s3cret@mail.test:587", "mail.test", 587, False, "u", "s3cret"),
        ("SMTPS://me%40shop.test:p%2F%23%3A%40ss@mail.test:2465/", "mail.test", 2465, True,
         "me@shop.test", "p/#:@ss"),
        ("smtp://[::1]:2525", "::1", 2525, False, None, None),
        ("smtp://apikey@mail.test", "mail.test", 25, False, "apikey", None),
    ],
)  # fmt: skip
def test_smtp_urls_parse(
    url: str, host: str, port: int, tls: bool, user: str | None, password: str | None
) -> None:
    server = SmtpServer.from_url(url)
    assert (server.host, server.port, server.implicit_tls) == (host, port, tls)
    assert (server.username, server.password) == (user, password)
    assert password is None or password not in repr(server)


@pytest.mark.parametrize(
    "url",
    [
        "http://u:hunter2@mail.test",
        "smtp://",
        "smtp://u:hunter2@",
        "smtp://u:hunter2@mail.test:notaport",
        "smtp://u:hunter2@mail.test:99999",
        "smtp://u:hunter2@mail.test:0",
        "smtp://u:hun/ter2@mail.test:25",
        "smtp://u:hunter2@mail.test:25?x=1",
        "smtp://u:hunter2@mail.test:25#frag",
        "smtp://:hunter2@mail.test",
        "smtp://u:hunter2%0d%0a@mail.test",
        "mail.test:25",
    ],
)
def test_malformed_smtp_urls_are_refused_without_the_password(url: str) -> None:
    with pytest.raises(ValueError, match=r"\S") as refused:
        SmtpServer.from_url(url)
    assert "hunter2" not in str(refused.value) and "ter2" not in str(refused.value)


def test_loopback_servers_are_known() -> None:
    assert SmtpServer.from_url("smtp://127.0.0.1:25").is_loopback
    assert SmtpServer.from_url("smtp://localhost").is_loopback
    assert SmtpServer.from_url("smtp://[::1]").is_loopback
    assert not SmtpServer.from_url("smtp://mail.test").is_loopback
    assert not SmtpServer.from_url("smtp://10.0.0.1").is_loopback


def test_html_escapes_everything_from_customers() -> None:
    body = Body(
        lead="<b>Eve</b> texted you:",
        quote='<script>alert("x")</script> & <a href="https://evil.test">bank</a>',
        facts=(("From", "<img src=x onerror=alert(1)>"),),
        link=("Open", 'https://slack.test/a"onmouseover="x'),
    )
    html = render_html(body)
    assert "<script>" not in html and "<img" not in html and "<b>Eve" not in html
    assert "&lt;script&gt;" in html and "&amp;" in html
    assert 'href="https://slack.test/a&quot;onmouseover=&quot;x"' in html
    text = render_text(body)
    assert '> <script>alert("x")</script>' in text and "From:" in text
