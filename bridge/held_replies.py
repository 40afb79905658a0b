"""Replies held for quiet hours: what the author is told, and the Send now and Cancel buttons."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ColumnElement, true, update
from sqlmodel import Session, col

from bridge.gates import Reason
from bridge.ports import Role
from bridge.quiet_hours import clock_words, wait_words
from bridge.reply_intake import SEND_REPLY
from store import jobs, replies
from store.models import Message

# Slack-lane jobs: the private notice with the buttons, and the thread's note when a held
# reply was refused at its due time.
HOLD_NOTICE, HELD_NOT_SENT = "hold_notice", "held_not_sent"
# Who may press the buttons besides the author.
_OVERRIDERS = frozenset({Role.OWNER, Role.ADMIN})

_THREAD_WHY = {
    Reason.ROLE: "its author may no longer text customers",
    Reason.NEVER_TEXTED: "the customer has not texted this number",
    Reason.UNSUBSCRIBED: "the customer unsubscribed meanwhile",
    Reason.NEVER_SUBSCRIBED: "the customer has not consented to SMS",
    Reason.EMPTY: "there was no text left to send",
}


def held_text(
    *, local_now: datetime, zone: str, due: datetime, now: datetime, also: Sequence[str] = ()
) -> str:
    """`Held: it's 5:02 AM for this customer (America/Los_Angeles). It will go at 8:00 AM
    their time, in 2 h 58 min.`"""
    where = zone if not also else f"{zone}; their number may also be in {', '.join(also[:3])}"
    local_due = due.astimezone(local_now.tzinfo)
    day = "" if local_due.date() == local_now.date() else f" on {local_due:%A}"
    return (
        f"Held: it's {clock_words(local_now)} for this customer ({where}). "
        f"It will go at {clock_words(local_due)}{day} their time, in {wait_words(due - now)}."
    )


def not_sent_text(audit_reason: str, author: str) -> str:
    """The thread's note for a held reply that a gate refused when it fell due."""
    code = audit_reason.split(" ", 1)[0]
    known = {reason.value: reason for reason in Reason}
    why = _THREAD_WHY.get(known[code], code) if code in known else code
    return f"A reply by <@{author}> held for quiet hours was not sent: {why}."


class Press(StrEnum):
    """What became of a press of Send now or Cancel."""

    SENDING = "sending"
    CANCELLED = "cancelled"
    NOT_ALLOWED = "not_allowed"
    NOT_HELD = "not_held"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PressResult:
    """The press's effect and the reply's state, for the presser's answer."""

    press: Press
    status: str = ""
    send_now_by: str | None = None


def may_press(reply: Message, *, user: str, role: Role) -> bool:
    """The author, or a workspace owner or admin."""
    return user == reply.author or role in _OVERRIDERS


def send_now(
    session: Session, *, message_id: int, user: str, role: Role, at: datetime
) -> PressResult:
    """Release a held reply at once; every other gate is still asked before it goes."""
    return _press(
        session,
        message_id=message_id,
        user=user,
        role=role,
        at=at,
        still_held=col(Message.send_now_by).is_(None),
        change={"send_now_by": user},
        audit=("send-now", "quiet hours overridden"),
        done=PressResult(Press.SENDING, "pending", user),
    )


def cancel(
    session: Session, *, message_id: int, user: str, role: Role, at: datetime
) -> PressResult:
    """Cancel a held reply; it stays in the thread for colleagues."""
    return _press(
        session,
        message_id=message_id,
        user=user,
        role=role,
        at=at,
        still_held=true(),
        change={"status": "cancelled"},
        audit=("cancelled", "cancelled while held"),
        done=PressResult(Press.CANCELLED, "cancelled"),
    )


def _press(
    session: Session,
    *,
    message_id: int,
    user: str,
    role: Role,
    at: datetime,
    still_held: ColumnElement[bool],
    change: dict[str, str],
    audit: tuple[str, str],
    done: PressResult,
) -> PressResult:
    """Apply a press to a reply still held, recorded with the presser; its job runs now
    (to send, or to find it cancelled and take the hourglass off)."""
    reply = session.get(Message, message_id)
    if reply is None or reply.kind != "reply":
        return PressResult(Press.UNKNOWN)
    if not may_press(reply, user=user, role=role):
        return PressResult(Press.NOT_ALLOWED, reply.status, reply.send_now_by)
    changed = session.execute(
        update(Message)
        .where(col(Message.id) == message_id, col(Message.status) == "pending")
        .where(col(Message.held_until).is_not(None), still_held)
        .values(**change, updated_at=at)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        session.refresh(reply)
        return PressResult(Press.NOT_HELD, reply.status, reply.send_now_by)
    decision, reason = audit
    replies.audit(session, message=reply, decision=decision, reason=reason, at=at, actor=user)
    jobs.release_now(session, kind=SEND_REPLY, message_id=message_id, at=at)
    session.commit()
    return done


def press_answer(result: PressResult) -> str:
    """What the presser is told."""
    if result.press is Press.SENDING:
        return "Sending now, outside their quiet hours. The other checks still apply."
    if result.press is Press.CANCELLED:
        return "Cancelled: this reply will not be sent. It stays in the thread for colleagues."
    if result.press is Press.NOT_ALLOWED:
        return "Only the reply's author or a workspace owner or admin can send it now or cancel it."
    if result.press is Press.UNKNOWN:
        return "That reply is no longer known to smsbridge."
    state = {
        "sending": "it is being sent",
        "sent": "it was already sent",
        "failed": "it was sent but not delivered",
        "cancelled": "it was cancelled",
        "refused": "it was not sent (see the thread)",
    }.get(result.status, f"it is {result.status}")
    if result.status == "pending" and result.send_now_by:
        state = f"<@{result.send_now_by}> already chose to send it now"
    return f"Nothing changed: {state}."
