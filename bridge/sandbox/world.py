"""The sandbox's fixed cast: its workspace, people in each role, the business number, settings."""

from __future__ import annotations

import dataclasses
import secrets
from collections import deque

from bridge.config import Settings, load_settings
from bridge.ids import E164, ChannelId
from bridge.sandbox.emulators import SlackEmulator, TwilioEmulator

CHANNEL = ChannelId("C0SANDBOX")
CHANNEL_NAME = "sms-inbox"
BUSINESS = E164("+15550100100")
ACCOUNT_SID = "AC" + "5a" * 16
SLACK_TOKEN = "xoxb-sandbox-not-a-real-token"  # noqa: S105 (the sandbox's own fake)
# role -> (Slack user ID, name, users.info flags)
ROLES: dict[str, tuple[str, str, dict[str, bool]]] = {
    "owner": ("U0OWNER", "Olivia Owner", {"is_owner": True, "is_admin": True}),
    "admin": ("U0ADMIN", "Adam Admin", {"is_admin": True}),
    "manager": ("U0MANAGER", "Maya Manager", {}),
    "member": ("U0MEMBER", "Mel Member", {}),
}
_DEFAULT_QUIET_HOURS = Settings().quiet_hours
# Parsed as the variable would be, so the sandbox needs no knowledge of the window's type.
_ALL_DAY = load_settings({"QUIET_HOURS": "00:00-24:00"}, env_file=None).quiet_hours
Journal = deque[dict[str, str | int]]


@dataclasses.dataclass
class World:
    """The emulated Slack and Twilio of one sandbox run, and the secrets they share."""

    slack: SlackEmulator
    twilio: TwilioEmulator
    signing_secret: str
    # The bot's posts whose message events went out: ts -> the edit last reported.
    echoed: dict[str, str] = dataclasses.field(default_factory=dict)
    # What was delivered to the bridge and how it answered, newest last (the page shows it).
    deliveries: Journal = dataclasses.field(default_factory=lambda: deque(maxlen=200))


def new_world() -> World:
    """Fresh emulators with the cast in place; secrets are new on every run."""
    slack = SlackEmulator(token=SLACK_TOKEN, team_domain="sandbox")
    slack.channel_names[CHANNEL] = CHANNEL_NAME
    for user_id, name, flags in ROLES.values():
        slack.add_user(user_id, name.split()[0].lower(), real_name=name, **flags)
    twilio = TwilioEmulator(account_sid=ACCOUNT_SID, auth_token=secrets.token_hex(16))
    return World(slack, twilio, signing_secret=secrets.token_hex(16))


def sandbox_settings(
    base: Settings, world: World, *, public_url: str, database_url: str
) -> Settings:
    """`base` with Slack and Twilio pointed at the sandbox's emulators over real HTTP."""
    return dataclasses.replace(
        base,
        public_url=public_url,
        database_url=database_url,
        slack_bot_token=world.slack.token,
        slack_signing_secret=world.signing_secret,
        slack_channel=CHANNEL,
        slack_api_url=f"{public_url}/sandbox/slack/api/",
        slack_managers=(ROLES["manager"][0],),
        slack_manager_group=None,
        twilio_account_sid=world.twilio.account_sid,
        twilio_auth_token=world.twilio.auth_token,
        twilio_from=BUSINESS,
        twilio_messaging_service_sid=None,
        # TWILIO_API_URL is an origin: the client keeps Twilio's own /2010-04-01 paths.
        twilio_api_url=public_url,
        routes={},
        # Someone trying the sandbox at night should still see replies go out.
        quiet_hours=_ALL_DAY if base.quiet_hours == _DEFAULT_QUIET_HOURS else base.quiet_hours,
        organization_prefix=base.organization_prefix or "Sandbox Shop",
        support_email=base.support_email or "help@shop.example",
        smtp_url=None,
        forward_to=(),
        fallback_to=(),
    )
