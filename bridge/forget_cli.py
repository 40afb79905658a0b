"""`smsbridge contacts forget NUMBER`: erase a contact, keeping only their opt-out."""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime

from sqlmodel import Session

from bridge.config import Settings
from bridge.erasure import find_to_forget, forget
from bridge.phones import masked
from store import migrate
from store.engine import make_engine


def forget_contact(settings: Settings, number: str, *, by: str | None = None) -> int:
    """Erase the contact with this number; 1 when there is none."""
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    actor = by or f"cli:{getpass.getuser()}"
    try:
        with Session(engine) as session:
            contact = find_to_forget(session, number, region=settings.default_region)
            if contact is None:
                print(f"smsbridge: no contact with the number {number}", file=sys.stderr)
                return 1
            consent = contact.consent
            erasure = forget(session, contact=contact, actor=actor, at=datetime.now(UTC))
            session.commit()
    finally:
        engine.dispose()
    print(
        f"Forgot {masked(number.strip())} (contact {erasure.contact_id}): {erasure.summary()}. "
        f"Kept: a hash of the number with its consent ({consent.replace('_', ' ')}), "
        "the consent ledger and the reply audit."
    )
    return 0
