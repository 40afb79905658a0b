"""The small interfaces the domain needs from the outside world."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from bridge.cards import ContactCard, PostContent
from bridge.ids import ChannelId, SlackTs


class ServiceUnavailable(Exception):
    """An outside service did not do what we asked; the job is tried again later.

    `uncertain`: it may have done it anyway. `retry_after`: it asked us to wait (seconds).
    `configuration`: no retry helps until someone fixes a token, an app or a channel.
    `throttled`: we sent too fast (a 429 without Retry-After): the whole lane backs off.
    """

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        uncertain: bool = False,
        configuration: bool = False,
        throttled: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.uncertain = uncertain
        self.configuration = configuration
        self.throttled = throttled


class PermanentFailure(Exception):
    """An outside service refused for good: the job is finished, `reason` kept as its error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatUnavailable(ServiceUnavailable):
    """The chat service did not take a post; `thread_gone`: its thread no longer exists."""

    def __init__(
        self,
        reason: str,
        *,
        retry_after: float | None = None,
        uncertain: bool = False,
        configuration: bool = False,
        thread_gone: bool = False,
    ) -> None:
        super().__init__(
            reason, retry_after=retry_after, uncertain=uncertain, configuration=configuration
        )
        self.thread_gone = thread_gone


class Paced(ChatUnavailable):
    """Not sent: the channel's budget (shared by every process) has no send for `wait` s.

    Not a failure: the job keeps its place and its attempts, and goes when the budget allows.
    """

    def __init__(self, wait: float) -> None:
        super().__init__(f"paced: next send in {wait:.2f}s", retry_after=wait)
        self.wait = wait


class SmsUnavailable(ServiceUnavailable):
    """The SMS provider did not take a message this time; sending it again may work."""


class SmsRejected(Exception):
    """The SMS provider refused a message for good (bad number, opted out, ...)."""

    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ChatPost:
    """A post to make; `key` identifies it so a lost answer can be reconciled."""

    channel: ChannelId
    content: PostContent
    key: str
    thread_ts: SlackTs | None = None
    # Also shown in the channel (Slack's "also send to channel").
    broadcast: bool = False


class ChatSink(Protocol):
    """Where conversations are mirrored (Slack in production)."""

    def post(self, post: ChatPost) -> SlackTs:
        """Post and return the message's ts; raise ChatUnavailable when it was not taken."""

    def update_card(self, channel: ChannelId, ts: SlackTs, card: ContactCard) -> None:
        """Replace the thread's header with `card`."""

    def find(
        self, channel: ChannelId, key: str, *, thread_ts: SlackTs | None, since: datetime
    ) -> SlackTs | None:
        """The ts of an earlier post made with `key`, if the chat service has it."""


@dataclass(frozen=True)
class OutgoingSms:
    """A text to send: `sender` is the business number, `service` a Messaging Service SID."""

    to: str
    sender: str
    body: str
    service: str | None = None
    # Public URLs of the files Twilio fetches and sends as MMS.
    media_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class SentSms:
    """The provider's receipt for a message it took."""

    sid: str
    status: str


class SmsGateway(Protocol):
    """Where replies go out as SMS (Twilio in production)."""

    def send(self, sms: OutgoingSms) -> SentSms:
        """Send; raise SmsUnavailable to retry or SmsRejected when it can never go."""

    def find_sent(self, sms: OutgoingSms, *, since: datetime, exclude: set[str]) -> SentSms | None:
        """A message matching `sms` the provider took since `since`, not among `exclude`."""


class Role(StrEnum):
    """What a Slack user is to smsbridge; only owners, admins and managers may text."""

    OWNER = "owner"
    ADMIN = "admin"
    MANAGER = "manager"
    MEMBER = "member"
    GUEST = "guest"
    BOT = "bot"
    DEACTIVATED = "deactivated"
    UNKNOWN = "unknown"


class People(Protocol):
    """Who is who on the chat side; raises ServiceUnavailable when it cannot tell now."""

    def role_of(self, user_id: str) -> Role:
        """The user's role."""

    def display_name(self, user_id: str) -> str | None:
        """The name people see for the user, if the user exists."""

    def channel_name(self, channel_id: str) -> str | None:
        """The channel's name without `#`, if it exists."""


class ReplyFeedback(Protocol):
    """Telling an agent what became of a reply; best effort, never raises."""

    def react(
        self, channel: ChannelId, ts: SlackTs, name: str, *, remove: str | None = None
    ) -> None:
        """Put reaction `name` on the agent's message, taking `remove` off first."""

    def tell(self, channel: ChannelId, user: str, thread_ts: SlackTs, text: str) -> None:
        """A message only `user` sees, in the thread."""

    def unreact(self, channel: ChannelId, ts: SlackTs, name: str) -> None:
        """Take reaction `name` off the agent's message."""

    def offer_hold(
        self, channel: ChannelId, user: str, thread_ts: SlackTs, text: str, reply_id: int
    ) -> None:
        """Tell `user` privately that their reply is held, with Send now and Cancel."""


@dataclass(frozen=True)
class Later:
    """What a job runner returns to have its job held, not done, until `until`."""

    until: datetime


class Clock(Protocol):
    """The current time; injected so tests control it."""

    def now(self) -> datetime:
        """Timezone-aware now."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Timezone-aware now in UTC."""
        return datetime.now(UTC)
