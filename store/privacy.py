"""Forgotten numbers (hashed) and the erasure log."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session, col, select

from store.models import ErasedNumber, PrivacyLog

# A fixed salt and a slow hash: the same number always gives the same hash (so a returning
# opted-out number is recognised), while reversing it costs a guess per possible number.
_SALT = b"smsbridge erased number v1"
_ROUNDS = 20_000
ERASURE_SOURCE = "erasure"


def number_hash(phone: str) -> str:
    """The hash kept for a forgotten number."""
    return hashlib.pbkdf2_hmac("sha256", phone.encode("utf-8"), _SALT, _ROUNDS).hex()


def remember_erased(session: Session, *, phone: str, consent: str, at: datetime) -> None:
    """Keep the hash of a forgotten number with its consent (the latest erasure wins)."""
    digest = number_hash(phone)
    row = session.exec(select(ErasedNumber).where(ErasedNumber.number_hash == digest)).first()
    if row is None:
        row = ErasedNumber(number_hash=digest, consent=consent, erased_at=at)
    row.consent, row.erased_at = consent, at
    session.add(row)


def erased_consent(session: Session, *, phone: str) -> str | None:
    """The consent a forgotten number had when it was erased, or None if it never was."""
    if session.exec(select(ErasedNumber.id).limit(1)).first() is None:
        return None  # nothing was ever forgotten: skip the slow hash
    digest = number_hash(phone)
    query = select(ErasedNumber.consent).where(ErasedNumber.number_hash == digest)
    return session.exec(query).first()


def erased_opt_outs(session: Session, phones: Iterable[str]) -> set[str]:
    """Those of `phones` that were forgotten while opted out."""
    wanted = list(phones)
    if not wanted or session.exec(select(ErasedNumber.id).limit(1)).first() is None:
        return set()
    hashes = {number_hash(phone): phone for phone in wanted}
    query = select(ErasedNumber.number_hash).where(
        col(ErasedNumber.number_hash).in_(list(hashes)), ErasedNumber.consent == "unsubscribed"
    )
    return {hashes[digest] for digest in session.exec(query)}


def log(
    session: Session,
    *,
    action: str,
    actor: str,
    detail: str,
    at: datetime,
    contact_id: int | None = None,
) -> None:
    """Add an entry to the erasure log, in the caller's transaction."""
    session.add(
        PrivacyLog(
            action=action, contact_id=contact_id, actor=actor[:64], detail=detail[:500], at=at
        )
    )
