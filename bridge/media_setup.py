"""Wiring the media parts: who may fetch what with which credentials, and the job runners."""

from __future__ import annotations

import base64
import re

from slack_sdk import WebClient

from bot.feedback import SlackFeedback
from bot.uploads import FILES_PATH, SlackFileSource, SlackUploader, files_origins
from bridge.config import Settings
from bridge.inbound_media import UPLOAD_MEDIA
from bridge.media import MediaFetcher
from bridge.media_upload import MediaUploader
from bridge.outbound_media import OutboundMedia
from bridge.ports import ChatSink
from bridge.status_display import SHOW_STATUS, StatusDisplay
from bridge.worker import JobRunner


def media_runners(settings: Settings, client: WebClient, *, sink: ChatSink) -> dict[str, JobRunner]:
    """The runners of the jobs that upload customers' pictures and show delivery status."""
    uploader = MediaUploader(
        fetcher=_twilio_media(settings), files=SlackUploader(client), sink=sink
    )
    return {UPLOAD_MEDIA: uploader, SHOW_STATUS: StatusDisplay(SlackFeedback(client))}


def _twilio_media(settings: Settings) -> MediaFetcher:
    """Customers' MMS media: our credentials go only to our account's media on the API."""
    assert settings.twilio_account_sid is not None and settings.twilio_auth_token is not None
    account = re.escape(settings.twilio_account_sid)
    token = f"{settings.twilio_account_sid}:{settings.twilio_auth_token}"
    return MediaFetcher(
        origins=frozenset({settings.twilio_api_url}),
        path=re.compile(
            rf"/2010-04-01/Accounts/{account}/Messages/(MM|SM)[0-9a-f]{{32}}/Media/ME[0-9a-f]{{32}}"
        ),
        headers={"Authorization": "Basic " + base64.b64encode(token.encode()).decode()},
    )


def outbound_media(settings: Settings, client: WebClient, public_url: str | None) -> OutboundMedia:
    """Agents' files: fetched from Slack with the bot token, served at PUBLIC_URL/media/."""
    fetcher = MediaFetcher(
        origins=files_origins(settings.slack_api_url),
        path=FILES_PATH,
        headers={"Authorization": f"Bearer {settings.slack_bot_token}"},
    )
    return OutboundMedia(
        files=SlackFileSource(client),
        fetcher=fetcher,
        public_url=public_url or "",
        ttl_hours=settings.media_ttl_hours,
    )
