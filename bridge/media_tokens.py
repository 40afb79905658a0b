"""Tokens for `/media/{token}`: random, unguessable, and valid only until they expire."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session

from store import media
from store.models import MediaItem

# 32 random bytes (256 bits) in URL-safe base64: 43 characters.
TOKEN_BYTES = 32
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    """A fresh token; guessing one is as hard as guessing a 256-bit key."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def expiry(now: datetime, ttl_hours: int) -> datetime:
    """When a token issued `now` stops working."""
    return now + timedelta(hours=ttl_hours)


def media_url(public_url: str, token: str) -> str:
    """Where Twilio fetches the file: `PUBLIC_URL/media/{token}`."""
    return f"{public_url.rstrip('/')}/media/{token}"


def servable(session: Session, *, token: str, now: datetime) -> MediaItem | None:
    """The item a token serves now; None for a malformed, unknown or expired token."""
    if not _TOKEN.fullmatch(token):
        return None
    item = media.by_token(session, token=token)
    if item is None or item.content is None or item.expires_at is None:
        return None
    if item.expires_at <= now:
        return None
    return item
