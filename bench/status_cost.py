"""CPU time of recording one delivery status callback, in process, on SQLite.

What `POST /twilio/status` does after the signature check: find the SMS part by SID, move its
status forward (never back), work out the reply's overall state and, when it changed, queue
the job that changes its Slack reaction. Measured over replies already sent: each gets
`sent`, `delivered`, then a late `sent` that must change nothing.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlmodel import Session  # noqa: E402

from bench.results import write_section  # noqa: E402
from bridge.status_display import note_status  # noqa: E402
from store import replies  # noqa: E402
from store.engine import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Contact, Conversation, Message, OutboundSms  # noqa: E402
from tests.conftest import BUSINESS, CHANNEL  # noqa: E402


def _seed(session: Session, count: int) -> list[str]:
    now = datetime.now(UTC)
    sids = []
    for n in range(count):
        contact = Contact(phone=f"+1415{3000000 + n:07d}")
        session.add(contact)
        session.flush()
        assert contact.id is not None
        conversation = Conversation(
            contact_id=contact.id, business_number=BUSINESS, channel=CHANNEL, parent_ts="1.0"
        )
        session.add(conversation)
        session.flush()
        reply = Message(
            contact_id=contact.id,
            conversation_id=conversation.id,
            direction="outbound",
            kind="reply",
            from_number=BUSINESS,
            to_number=contact.phone,
            slack_ts=f"2.{n}",
            status="sent",
            delivery_status="queued",
            status_shown="queued",
        )
        session.add(reply)
        session.flush()
        assert reply.id is not None
        sid = f"SM{n:032x}"
        session.add(
            OutboundSms(
                message_id=reply.id,
                to_number=contact.phone,
                from_number=BUSINESS,
                twilio_sid=sid,
                status="queued",
                created_at=now,
                updated_at=now,
            )
        )
        sids.append(sid)
    session.commit()
    return sids


def per_callback_ms(count: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/status.db")
        upgrade(engine)
        with Session(engine) as session:
            sids = _seed(session, count)
        started = time.process_time()
        for status in ("sent", "delivered", "sent"):
            for sid in sids:
                with Session(engine) as session:
                    at = datetime.now(UTC)
                    replies.record_status(session, sid=sid, status=status, error_code=None, at=at)
                    note_status(session, sid=sid, at=at)
        cost = (time.process_time() - started) / (3 * count) * 1000
        engine.dispose()
    return cost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replies", type=int, default=300)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    ms = per_callback_ms(args.replies)
    lines = [
        "## CPU per delivery status callback (`record_status` + `note_status`)",
        "",
        f"- measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"Python {platform.python_version()}; SQLite (WAL), {args.replies} replies, "
        "3 callbacks each (sent, delivered, a late sent)",
        "- command: `python bench/status_cost.py --out bench/RESULTS.md` (also `make bench`)",
        "",
        f"CPU ms per callback: {ms:.2f}",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_section(args.out, "status_cost", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
