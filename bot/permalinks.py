"""Links to Slack messages for mails: chat.getPermalink, best effort."""

from __future__ import annotations

import logging

from slack_sdk import WebClient

from bot.slack_api import call
from bridge.ports import ChatUnavailable

log = logging.getLogger(__name__)


class SlackLinks:
    """Implements the mail jobs' ThreadLinks; without Slack there is simply no link."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def link(self, channel: str, ts: str) -> str | None:
        """The message's permalink (a reply's opens its thread), or None."""
        try:
            data = call(self._client, "chat_getPermalink", channel=channel, message_ts=ts)
        except ChatUnavailable as refused:
            log.info("no Slack link for a mail: %s", refused.reason)
            return None
        link = data.get("permalink")
        return link if isinstance(link, str) and link.startswith("https://") else None
