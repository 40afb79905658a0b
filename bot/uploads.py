"""Slack files: uploading a customer's pictures into a thread, describing an agent's files."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackRequestError

from bot.slack_api import call
from bridge.ids import ChannelId, SlackTs
from bridge.outbound_media import SharedFile
from bridge.ports import ChatUnavailable

# Where Slack keeps files: url_private(_download) paths under the files origin.
FILES_PATH = re.compile(r"/files-pri/[A-Z0-9]+-F[A-Z0-9]+/.+")


class SlackUploader:
    """Implements the domain's FileSink with `files_upload_v2` (the external upload flow)."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def upload(
        self, channel: ChannelId, thread_ts: SlackTs, *, filename: str, title: str, content: bytes
    ) -> str:
        """getUploadURLExternal, the upload, completeUploadExternal into the thread."""
        try:
            response = call(
                self._client,
                "files_upload_v2",
                channel=channel,
                thread_ts=thread_ts,
                filename=filename,
                title=title,
                content=content,
            )
        except SlackRequestError as exc:  # the upload URL answered, but not 200
            raise ChatUnavailable(f"Slack file upload failed: {exc}", uncertain=True) from None
        files = response.get("files") or [response.get("file") or {}]
        return str(files[0].get("id") or "")


class SlackFileSource:
    """Implements the domain's FileSource with files.info."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def describe(self, file_id: str) -> SharedFile | None:
        """What Slack says of a file; None when it is gone or not ours to see."""
        try:
            response = call(self._client, "files_info", file=file_id)
        except ChatUnavailable as failed:
            if failed.reason in ("file_not_found", "file_deleted", "access_denied"):
                return None
            raise
        file = response.get("file") or {}
        return SharedFile(
            file_id=file_id,
            name=str(file.get("name") or "file"),
            mimetype=str(file.get("mimetype") or "application/octet-stream").lower(),
            size=int(file.get("size") or 0),
            url=str(file.get("url_private_download") or file.get("url_private") or ""),
        )


def files_origins(slack_api_url: str) -> frozenset[str]:
    """Where the bot token may go for file downloads: Slack's files host, or the API's own."""
    parts = urlsplit(slack_api_url)
    if (parts.hostname or "").endswith("slack.com"):
        return frozenset({"https://files.slack.com"})
    return frozenset({f"{parts.scheme}://{parts.netloc}"})
