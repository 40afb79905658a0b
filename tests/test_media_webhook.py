"""An inbound MMS: its media are read from the webhook and queued after the text's post."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from bridge.config import Settings
from bridge.ids import MessageSid
from bridge.inbound import POST_EVENT, POST_TEXT, InboundText, accept
from bridge.inbound_media import UPLOAD_MEDIA
from bridge.twilio_webhook import Params, parse_inbound
from store.models import DeliveryJob, MediaItem
from tests.conftest import ACCOUNT_SID, BUSINESS, FakeClock

CUSTOMER = "+14155550100"
MEDIA = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'a' * 32}/Media/ME"


def _params(**extra: str) -> Params:
    base = {"MessageSid": "MM" + "a" * 32, "From": CUSTOMER, "To": BUSINESS, "Body": "look"}
    return Params(list({**base, **extra}.items()))


def test_media_urls_and_types_are_read_in_order() -> None:
    text, _ = parse_inbound(
        _params(
            NumMedia="2",
            MediaUrl0=MEDIA + "1",
            MediaContentType0="image/jpeg",
            MediaUrl1=MEDIA + "2",
            MediaContentType1="text/vcard",
        )
    )
    assert text is not None
    assert text.num_media == 2
    assert text.media == ((MEDIA + "1", "image/jpeg"), (MEDIA + "2", "text/vcard"))


def test_only_as_many_as_num_media_says_and_never_more_than_ten() -> None:
    extra = {f"MediaUrl{n}": f"{MEDIA}{n}" for n in range(12)}
    text, _ = parse_inbound(_params(NumMedia="1", **extra))
    assert text is not None and len(text.media) == 1
    text, _ = parse_inbound(_params(NumMedia="12", **extra))
    assert text is not None and len(text.media) == 10
    text, _ = parse_inbound(_params(NumMedia="x", **extra))
    assert text is not None and text.media == ()
    text, _ = parse_inbound(_params(NumMedia="1", MediaUrl0="h" * 5000))
    assert text is not None and text.media == ()


def _mms(n: int, body: str) -> InboundText:
    media = ((MEDIA + str(n), "image/png"),)
    return InboundText(MessageSid(f"MM{n:032x}"), CUSTOMER, BUSINESS, body, 1, media=media)


def test_the_upload_is_queued_after_the_texts_post(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    with Session(engine) as session:
        accepted = accept(session, settings=settings, text=_mms(1, "damaged"), at=clock.now())
        posts = select(DeliveryJob).where(col(DeliveryJob.lane).in_(["slack", "media"]))
        jobs = list(session.exec(posts.order_by(col(DeliveryJob.id))))
        assert [(j.kind, j.lane) for j in jobs] == [(POST_TEXT, "slack"), (UPLOAD_MEDIA, "media")]
        [item] = session.exec(select(MediaItem)).all()
        assert (item.message_id, item.source_url, item.state) == (
            accepted.message_id,
            MEDIA + "1",
            "pending",
        )


def test_a_keyword_with_a_picture_is_an_event_and_uploads_nothing(
    engine: Engine, settings: Settings, clock: FakeClock
) -> None:
    with Session(engine) as session:
        accept(session, settings=settings, text=_mms(1, "hello"), at=clock.now())
        accept(session, settings=settings, text=_mms(2, "STOP"), at=clock.now())
        kinds = [j.kind for j in session.exec(select(DeliveryJob).order_by(col(DeliveryJob.id)))]
        assert kinds.count(UPLOAD_MEDIA) == 1 and POST_EVENT in kinds
