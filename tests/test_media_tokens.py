"""`/media/{token}`: files are served while the token lives, then 404 with no detail."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.routing import Route

from bridge.config import ConfigError, load_settings
from bridge.media_endpoint import MediaEndpoint
from bridge.media_tokens import expiry, new_token, servable
from store import media
from store.models import Contact, MediaItem, Message
from tests.conftest import FakeClock, base_env


class Client:
    """GETs against the endpoint's ASGI app in process."""

    def __init__(self, app: Starlette) -> None:
        self._app = app

    def get(self, path: str) -> httpx.Response:
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self._app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bridge") as c:
                return await c.get(path)

        return asyncio.run(go())


@pytest.fixture
def client(engine: Engine, clock: FakeClock) -> Client:
    endpoint = MediaEndpoint(engine=engine, now=clock.now)
    return Client(Starlette(routes=[Route("/media/{token}", endpoint.handle, methods=["GET"])]))


def _serve(engine: Engine, now: datetime, *, ttl_hours: int = 24) -> str:
    token = new_token()
    with Session(engine) as session:
        contact = Contact(phone="+14155550100")
        session.add(contact)
        session.flush()
        message = Message(
            contact_id=contact.id or 0,
            direction="outbound",
            kind="reply",
            from_number="+15550001111",
            to_number=contact.phone,
        )
        session.add(message)
        session.flush()
        session.add(
            MediaItem(
                message_id=message.id or 0,
                direction="outbound",
                filename="my receipt (final).jpeg",
                content_type="image/jpeg",
                content=b"\xff\xd8 jpeg",
                state="done",
                token=token,
                expires_at=expiry(now, ttl_hours),
            )
        )
        session.commit()
    return token


def test_tokens_are_long_random_and_url_safe() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 43 and t.replace("-", "").replace("_", "").isalnum() for t in tokens)


def test_a_file_is_served_until_its_token_expires(
    engine: Engine, clock: FakeClock, client: Client
) -> None:
    token = _serve(engine, clock.now(), ttl_hours=24)
    answer = client.get(f"/media/{token}")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.content == b"\xff\xd8 jpeg"
    assert answer.headers["content-disposition"] == 'inline; filename="myreceiptfinal.jpeg"'
    clock.advance(timedelta(hours=23, minutes=59).total_seconds())
    assert client.get(f"/media/{token}").status_code == 200
    clock.advance(60)
    gone = client.get(f"/media/{token}")
    assert (gone.status_code, gone.content) == (404, b"")


def test_unknown_and_malformed_tokens_are_404_without_detail(
    engine: Engine, clock: FakeClock, client: Client
) -> None:
    real = _serve(engine, clock.now())
    for token in (new_token(), real[:-1], real + "x", "short", "A" * 43):
        answer = client.get(f"/media/{token}")
        assert (answer.status_code, answer.content) == (404, b"")


def test_the_expiry_follows_media_ttl_hours(engine: Engine, clock: FakeClock) -> None:
    token = _serve(engine, clock.now(), ttl_hours=1)
    with Session(engine) as session:
        assert servable(session, token=token, now=clock.now() + timedelta(minutes=59))
        assert servable(session, token=token, now=clock.now() + timedelta(hours=1)) is None


def test_expired_files_are_forgotten(engine: Engine, clock: FakeClock) -> None:
    token = _serve(engine, clock.now(), ttl_hours=1)
    with Session(engine) as session:
        assert media.forget_expired(session, now=clock.now()) == 0
        assert media.forget_expired(session, now=clock.now() + timedelta(hours=1)) == 1
        session.commit()
        item = media.by_token(session, token=token)
        assert item is not None and item.content is None


def test_media_ttl_hours_is_read_like_the_other_settings() -> None:
    assert load_settings(base_env(), env_file=None).media_ttl_hours == 24
    assert load_settings(base_env(MEDIA_TTL_HOURS="2"), env_file=None).media_ttl_hours == 2
    for bad in ("soon", "0", "-3", "1.5"):
        with pytest.raises(ConfigError, match=r"^MEDIA_TTL_HOURS: "):
            load_settings(base_env(MEDIA_TTL_HOURS=bad), env_file=None)
