"""The requests Slack makes to an app, shaped as Slack shapes them (no HTTP here).

Events API: the `event_callback` envelope around a `message` or `app_home_opened` event;
interactivity: `block_actions`; slash commands: the form Slack posts.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from typing import Any

from bridge.sandbox.emulators import SlackEmulator

Json = dict[str, Any]
VERIFICATION_TOKEN = "sandbox-verification-token"  # noqa: S105 (Slack's legacy field; unused)


def envelope(slack: SlackEmulator, event: Json) -> Json:
    """The `event_callback` envelope around `event`, with a fresh event_id."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": slack.team_id,
        "context_team_id": slack.team_id,
        "api_app_id": slack.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(time.time()),
        "authorizations": [
            {"team_id": slack.team_id, "user_id": slack.bot_user_id, "is_bot": True}
        ],
        "is_ext_shared_channel": False,
    }


def thread_reply_event(
    slack: SlackEmulator, channel: str, parent: Json, *, user: str, text: str, ts: str
) -> Json:
    """The `message` event of a person's reply in a thread (`text` as they typed it)."""
    return {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": escape(text),
        "user": user,
        "ts": ts,
        "blocks": rich_text(text),
        "team": slack.team_id,
        "thread_ts": parent["ts"],
        "parent_user_id": str(parent.get("user") or slack.bot_user_id),
        "channel": channel,
        "event_ts": ts,
        "channel_type": "channel",
    }


def own_post_event(channel: str, message: Json, *, first: bool) -> Json:
    """What Slack tells an app of its own post (`first`) or of its later edit."""
    shown = {k: v for k, v in message.items() if k not in ("metadata", "reactions")}
    if first:
        return {**shown, "channel": channel, "channel_type": "channel", "event_ts": message["ts"]}
    now = f"{time.time():.6f}"
    return {
        "type": "message",
        "subtype": "message_changed",
        "message": shown,
        "channel": channel,
        "hidden": True,
        "ts": now,
        "event_ts": now,
        "channel_type": "channel",
    }


def home_opened_event(slack: SlackEmulator, user: str) -> Json:
    """`app_home_opened` for `user`, with the view they last got when there is one."""
    event: Json = {
        "type": "app_home_opened",
        "user": user,
        "channel": f"D{user[1:]}",
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    if user in slack.views:
        event["view"] = slack.views[user]
    return event


def block_actions(
    slack: SlackEmulator,
    channel: str,
    *,
    user: str,
    message: Json,
    clicked: tuple[str, Json],
    response_url: str,
) -> Json:
    """The `block_actions` payload of `user` clicking a button (block_id, element) of `message`."""
    container: Json = {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": channel,
        "is_ephemeral": False,
    }
    if message.get("thread_ts"):
        container["thread_ts"] = message["thread_ts"]
    block_id, button = clicked
    return {
        "type": "block_actions",
        "user": {
            "id": user,
            "username": _name(slack, user),
            "name": _name(slack, user),
            "team_id": slack.team_id,
        },
        "api_app_id": slack.app_id,
        "token": VERIFICATION_TOKEN,
        "container": container,
        "trigger_id": _trigger_id(),
        "team": {"id": slack.team_id, "domain": "sandbox"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": slack.channel_names.get(channel, channel)},
        "message": with_thread_summary(slack, channel, message),
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{**button, "block_id": block_id, "action_ts": f"{time.time():.6f}"}],
    }


def slash_command(
    slack: SlackEmulator, channel: str, *, user: str, command: str, text: str, response_url: str
) -> dict[str, str]:
    """The form Slack posts when `user` types `/command text` in `channel`."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": slack.team_id,
        "team_domain": "sandbox",
        "channel_id": channel,
        "channel_name": slack.channel_names.get(channel, channel),
        "user_id": user,
        "user_name": _name(slack, user),
        "command": command,
        "text": text,
        "api_app_id": slack.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": _trigger_id(),
    }


def with_thread_summary(slack: SlackEmulator, channel: str, message: Json) -> Json:
    """A parent with replies as Slack shows it: with `thread_ts` and the reply counts."""
    replies = slack.thread(channel, message["ts"])
    if not replies or message.get("thread_ts"):
        return message
    users = list(dict.fromkeys(str(r.get("user", "")) for r in replies))
    return message | {
        "thread_ts": message["ts"],
        "reply_count": len(replies),
        "reply_users_count": len(users),
        "reply_users": users,
        "latest_reply": replies[-1]["ts"],
    }


def find_button(message: Json, action_id: str, index: int) -> tuple[str, Json] | None:
    """The block_id and button clicked; Slack names blocks posted without a block_id itself."""
    blocks = message.get("blocks") or []
    if not 0 <= index < len(blocks) or blocks[index].get("type") != "actions":
        return None
    for element in blocks[index].get("elements") or []:
        if element.get("action_id") == action_id:
            return str(blocks[index].get("block_id") or f"b{index}"), dict(element)
    return None


def event_name(body: str) -> str:
    """For people: which event a JSON request body carries, and whether it is the app's own."""
    event = json.loads(body).get("event", {})
    name = str(event.get("type", "?"))
    if event.get("subtype"):
        name += f" ({event['subtype']})"
    if event.get("bot_id") or (event.get("message") or {}).get("bot_id"):
        name += ", the app's own"
    return name


def escape(text: str) -> str:
    """Slack's escaping of what a person typed, as it arrives in a message's `text`."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def rich_text(text: str) -> list[Json]:
    """The rich_text block Slack attaches to a typed message (the text verbatim)."""
    section = {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
    return [{"type": "rich_text", "block_id": secrets.token_hex(2), "elements": [section]}]


def _name(slack: SlackEmulator, user: str) -> str:
    return str(slack.users.get(user, {}).get("name", user))


def _trigger_id() -> str:
    return f"{int(time.time())}.{secrets.randbelow(10**12)}"
