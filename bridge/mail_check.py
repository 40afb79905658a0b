"""`smsbridge email test`: send one mail through SMTP_URL and say what the server answered."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from bridge.config import Settings
from bridge.forwarding import mail_sender
from bridge.mail import (
    Mail,
    MailRefused,
    MailUnavailable,
    SmtpMailer,
    SmtpServer,
    addr_spec,
    build_message,
    domain_of,
    message_id,
)
from bridge.mail_content import Body, render_html, render_text


def email_test(settings: Settings, *, to: Sequence[str]) -> int:
    """Send a test mail to `to` (else FORWARD_TO, else FALLBACK_TO); 0 when the server took it."""
    sender = mail_sender(settings)
    if sender is None or settings.smtp_url is None:
        print("smsbridge: set SMTP_URL (and EMAIL_FROM) to send mail", file=sys.stderr)
        return 2
    recipients = list(to) or list(settings.forward_to) or list(settings.fallback_to)
    if not recipients:
        print("smsbridge: give --to ADDRESS, or set FORWARD_TO", file=sys.stderr)
        return 2
    for recipient in recipients:
        try:
            addr_spec(recipient)
        except ValueError as exc:
            print(f"smsbridge: --to {recipient[:60]!r}: {exc}", file=sys.stderr)
            return 2
    server = SmtpServer.from_url(settings.smtp_url)
    now = datetime.now(UTC)
    body = Body(
        lead="This is a test mail from smsbridge. ✅",
        facts=(
            ("Server", server.describe()),
            ("From", sender),
            ("Forwards to", ", ".join(settings.forward_to) or "(FORWARD_TO is not set)"),
            ("Fallback to", ", ".join(settings.fallback_to) or "(FALLBACK_TO is not set)"),
        ),
        notes=("If you can read this, customers' texts can reach you by email.",),
    )
    mail = Mail(
        subject="smsbridge test mail ✅",
        text=render_text(body),
        html=render_html(body),
        message_id=message_id(f"test.{uuid.uuid4().hex}", domain_of(sender)),
    )
    message = build_message(mail, sender=sender, to=recipients, date=now)
    try:
        receipt = SmtpMailer(server, sender=sender).send(message, recipients)
    except (MailUnavailable, MailRefused) as failed:
        print(f"smsbridge: the test mail was not sent: {failed.reason}", file=sys.stderr)
        return 1
    print(f"Sent a test mail to {', '.join(receipt.accepted)} via {server.describe()}.")
    print(f"The mail server said: {receipt.reply}")
    for address, why in receipt.refused.items():
        print(f"smsbridge: the mail server refused {address}: {why}", file=sys.stderr)
    return 1 if receipt.refused else 0
