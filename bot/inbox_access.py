"""Who may act on the inbox and see contact details: the roles that may reply."""

from __future__ import annotations

from dataclasses import dataclass

from bridge.gates import ALLOWED_ROLES
from bridge.ports import People, Role, ServiceUnavailable

REFUSED = (
    "Only workspace owners, admins and SMS managers can do this: it changes or reveals a "
    "customer's conversation."
)
READ_ONLY = (
    "Read-only: only workspace owners, admins and SMS managers may reply to customers or "
    "change conversations."
)


@dataclass(frozen=True)
class Access:
    """Whether a user may act, and what to tell them when not."""

    allowed: bool
    reason: str


def access_of(people: People, user_id: str) -> Access:
    """Decide from the user's role; when Slack cannot tell us now, refuse and say so."""
    try:
        role = people.role_of(user_id)
    except ServiceUnavailable:
        return Access(False, "Slack could not tell me your role just now; please try again.")
    if role in ALLOWED_ROLES:
        return Access(True, "allowed")
    return Access(False, REFUSED if role is not Role.UNKNOWN else "I do not know you.")
