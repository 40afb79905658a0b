"""Whether an agent's thread reply may go out as SMS: pure decisions with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bridge.consent import Consent
from bridge.ports import Role

ALLOWED_ROLES = frozenset({Role.OWNER, Role.ADMIN, Role.MANAGER})


class Reason(StrEnum):
    """Why a reply was or was not sent; stored in the audit as is."""

    ALLOWED = "allowed"
    ROLE = "role"
    NEVER_TEXTED = "never_texted"
    UNSUBSCRIBED = "unsubscribed"
    NEVER_SUBSCRIBED = "never_subscribed"
    EMPTY = "empty"


@dataclass(frozen=True)
class ReplyFacts:
    """Everything the gates look at."""

    role: Role
    consent: Consent
    texted_first: bool
    empty: bool = False


@dataclass(frozen=True)
class Decision:
    """The gates' verdict."""

    allowed: bool
    reason: Reason


def is_note(text: str, prefix: str) -> bool:
    """A thread message that starts with the note prefix is for colleagues only."""
    return bool(prefix) and text.lstrip().startswith(prefix)


def decide(facts: ReplyFacts) -> Decision:
    """Role first (it is about the author), then the customer: texted first, consent."""
    if facts.role not in ALLOWED_ROLES:
        return Decision(False, Reason.ROLE)
    if not facts.texted_first:
        return Decision(False, Reason.NEVER_TEXTED)
    if facts.consent is Consent.UNSUBSCRIBED:
        return Decision(False, Reason.UNSUBSCRIBED)
    if facts.consent is not Consent.SUBSCRIBED:
        return Decision(False, Reason.NEVER_SUBSCRIBED)
    if facts.empty:
        return Decision(False, Reason.EMPTY)
    return Decision(True, Reason.ALLOWED)


_ROLE_HELP = {
    Role.MEMBER: "Only workspace owners, admins and SMS managers can text customers",
    Role.GUEST: "Guests can't text customers",
    Role.BOT: "Apps and bots can't text customers",
    Role.DEACTIVATED: "Deactivated accounts can't text customers",
    Role.UNKNOWN: "Slack couldn't tell us who you are, so nothing was texted",
}


def explain(decision: Decision, *, role: Role, customer: str) -> str:
    """What the author is told privately: what happened and what they can do about it."""
    reason = decision.reason
    if reason is Reason.ROLE:
        why = _ROLE_HELP.get(role, _ROLE_HELP[Role.MEMBER])
        return (
            f"Not sent to {customer}: {why}. Your message stays in the thread for your "
            "colleagues; to answer by SMS, ask an admin to make you an SMS manager."
        )
    if reason is Reason.NEVER_TEXTED:
        return (
            f"Not sent: {customer} has not texted this number, and we only answer customers "
            "who texted first."
        )
    if reason is Reason.UNSUBSCRIBED:
        return (
            f"Not sent: {customer} has unsubscribed from SMS. Only they can opt back in, "
            "by texting START."
        )
    if reason is Reason.NEVER_SUBSCRIBED:
        return (
            f"Not sent: {customer} has not consented to SMS. They can opt in by texting START; "
            "until then, reach them another way."
        )
    if reason is Reason.EMPTY:
        return (
            "Not sent: there is no text to send once Slack formatting is removed "
            "(files and pictures are not sent by SMS yet)."
        )
    return f"On its way to {customer} by SMS."
