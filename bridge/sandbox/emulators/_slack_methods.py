"""Slack Web API method implementations and state behind SlackEmulator (no HTTP here)."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from typing import Any

import emoji

from bridge.sandbox.emulators._slack_store import (
    Message,
    SlackError,
    SlackStore,
    TimeRange,
    is_reply,
    ts_key,
)

_TRUE = {"1", "true", "yes", "on"}
Params = dict[str, Any]
# A reaction name as the Web API takes it: no surrounding colons, optional skin tone suffix.
_REACTION_NAME = re.compile(r"(?P<base>[a-z0-9_+'-]+)(?:::skin-tone-[2-6])?")


def truthy(value: Any) -> bool:
    """Slack's boolean argument parsing: true/1 (form or JSON) is true, anything else false."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE


def make_user(user_id: str, name: str, **overrides: Any) -> dict[str, Any]:
    """A users.info `user` object shaped like Slack's; overrides replace top-level keys."""
    real_name = overrides.pop("real_name", name.title())
    display_name = overrides.pop("display_name", name)
    user: dict[str, Any] = {
        "id": user_id,
        "team_id": overrides.pop("team_id", "T0001"),
        "name": name,
        "deleted": False,
        "real_name": real_name,
        "tz": "America/New_York",
        "tz_label": "Eastern Standard Time",
        "tz_offset": -18000,
        "profile": {"display_name": display_name, "real_name": real_name, "email": None},
        "is_admin": False,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": False,
        "is_app_user": False,
        "updated": int(time.time()),
    }
    user.update(overrides)
    return user


class SlackWebApi:
    """Channels, users, views and the Web API methods; callers hold the emulator lock."""

    def __init__(
        self, bot_user_id: str, bot_id: str, team_id: str, app_id: str, team_domain: str
    ) -> None:
        """Set identity and empty, test-tunable state (plain public attributes)."""
        self.bot_user_id, self.bot_id, self.team_id = bot_user_id, bot_id, team_id
        self.app_id = app_id
        self.workspace_url = f"https://{team_domain}.slack.com/"
        self.missing_channels: set[str] = set()
        self.not_in_channels: set[str] = set()
        self.channel_names: dict[str, str] = {}
        self.users: dict[str, dict[str, Any]] = {
            bot_user_id: make_user(bot_user_id, "smsbridge", team_id=team_id, is_bot=True)
        }
        self.usergroups: dict[str, list[str]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        # Modals opened with views.open, in order (each answers one trigger_id).
        self.opened: list[dict[str, Any]] = []
        self.ephemerals: list[dict[str, Any]] = []
        self.replies_parent_every_page = False
        self.custom_emoji: set[str] = set()
        self._store = SlackStore()
        self._posts: list[Params] = []
        self._routes: dict[str, Callable[[Params], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.getPermalink": self._permalink,
            "conversations.history": self._history,
            "conversations.replies": self._replies,
            "conversations.info": self._conversation_info,
            "users.info": self._user_info,
            "usergroups.users.list": self._usergroup_users,
            "views.publish": self._views_publish,
            "views.open": self._views_open,
            "reactions.add": self._reactions_add,
            "reactions.remove": self._reactions_remove,
            "reactions.get": self._reactions_get,
        }

    # -- helpers -----------------------------------------------------------------------------

    def _channel(self, params: Params, member: bool = True) -> str:
        channel = str(params.get("channel") or "")
        if not channel or channel in self.missing_channels:
            raise SlackError("channel_not_found")
        if member and channel in self.not_in_channels:
            raise SlackError("not_in_channel")
        return channel

    def _window(self, params: Params) -> TimeRange:
        return TimeRange(
            params.get("oldest"), params.get("latest"), truthy(params.get("inclusive"))
        )

    @staticmethod
    def _limit(params: Params, default: int, maximum: int) -> int:
        try:
            value = int(params.get("limit") or default)
        except (TypeError, ValueError):
            value = default
        return min(max(value, 1), maximum)

    def _store_message(
        self, channel: str, fields: Message, thread_ts: str | None, broadcast: bool
    ) -> Message:
        message: Message = {"type": "message", **fields, "ts": self._store.next_ts()}
        if thread_ts:
            parent = self._store.get(channel, thread_ts)
            if parent is None or is_reply(parent):
                raise SlackError("thread_not_found")
            message.update(thread_ts=parent["ts"], parent_user_id=parent.get("user"))
            if broadcast:
                message["subtype"] = "thread_broadcast"
        self._store.add(channel, message)
        return message

    def _link(self, channel: str, message: Message) -> str:
        link = f"{self.workspace_url}archives/{channel}/p{message['ts'].replace('.', '')}"
        if is_reply(message):
            link += f"?thread_ts={message['thread_ts']}&cid={channel}"
        return link

    def _reaction_target(self, params: Params) -> tuple[str, Message]:
        """The (channel, stored message) a reactions.* call names, or the Slack error."""
        timestamp = str(params.get("timestamp") or "")
        if not params.get("channel") or not timestamp:
            raise SlackError("no_item_specified")
        channel = self._channel(params, member=False)
        ts_key(timestamp, "bad_timestamp")
        message = self._store.get(channel, timestamp)
        if message is None:
            raise SlackError("message_not_found")
        return channel, message

    def _check_reaction_name(self, name: str) -> None:
        """Raise invalid_name unless `name` is a known emoji name (no colons) or custom_emoji."""
        match = _REACTION_NAME.fullmatch(name)
        if match is None:
            raise SlackError("invalid_name")
        base = match["base"]
        if base not in self.custom_emoji and not emoji.is_emoji(
            emoji.emojize(f":{base}:", language="alias")
        ):
            raise SlackError("invalid_name")

    def _react(self, message: Message, name: str, user: str) -> None:
        """Add user's reaction `name` to a stored message (already_reacted if present)."""
        self._check_reaction_name(name)
        reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None:
            reactions.append({"name": name, "users": [user], "count": 1})
            return
        if user in entry["users"]:
            raise SlackError("already_reacted")
        entry["users"].append(user)
        entry["count"] += 1

    def _unreact(self, message: Message, name: str, user: str) -> None:
        """Remove user's reaction `name` (no_reaction if they have none); drop empty entries."""
        self._check_reaction_name(name)
        reactions: list[dict[str, Any]] = message.get("reactions", [])
        entry = next((r for r in reactions if r["name"] == name), None)
        if entry is None or user not in entry["users"]:
            raise SlackError("no_reaction")
        entry["users"].remove(user)
        entry["count"] -= 1
        if entry["count"] <= 0:
            reactions.remove(entry)
        if not reactions:
            message.pop("reactions", None)

    def _arrived(self, channel: str, message: Message) -> None:
        """Note when an accepted post arrived (SlackEmulator keeps these; a no-op here)."""

    # -- Web API methods ---------------------------------------------------------------------

    def _auth_test(self, params: Params) -> dict[str, Any]:
        bot = self.users.get(self.bot_user_id, {})
        return {
            "ok": True,
            "url": self.workspace_url,
            "team": "Example Workspace",
            "user": bot.get("name", "bot"),
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            raise SlackError("no_text")
        fields: Message = {
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "text": str(params.get("text") or ""),
        }
        for name in ("blocks", "attachments", "metadata"):
            if params.get(name):
                fields[name] = params[name]
        thread_ts = str(params.get("thread_ts") or "") or None
        message = self._store_message(
            channel, fields, thread_ts, truthy(params.get("reply_broadcast"))
        )
        self._posts.append(params)
        self._arrived(channel, message)
        shown = self._store.render(channel, message, include_metadata=True)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": shown}

    def _update(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        message = self._store.get(channel, str(params.get("ts") or ""))
        if message is None:
            raise SlackError("message_not_found")
        if message.get("bot_id") != self.bot_id:
            raise SlackError("cant_update_message")
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            raise SlackError("no_text")
        if "text" in params:
            message["text"] = str(params["text"] or "")
        for name in ("blocks", "attachments", "metadata"):
            if params.get(name):
                message[name] = params[name]
        message["edited"] = {"user": self.bot_user_id, "ts": self._store.next_ts()}
        shown = self._store.render(channel, message, include_metadata=True)
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message["text"],
            "message": shown,
        }

    def _post_ephemeral(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        if not params.get("user"):
            raise SlackError("user_not_found")
        message_ts = self._store.next_ts()
        self.ephemerals.append({**params, "channel": channel, "message_ts": message_ts})
        return {"ok": True, "message_ts": message_ts}

    def _permalink(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params, member=False)
        message = self._store.get(channel, str(params.get("message_ts") or ""))
        if message is None:
            raise SlackError("message_not_found")
        return {"ok": True, "channel": channel, "permalink": self._link(channel, message)}

    def _history(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        return self._store.history(
            channel,
            limit=self._limit(params, 100, 999),
            cursor=str(params.get("cursor") or ""),
            window=self._window(params),
            metadata=truthy(params.get("include_all_metadata")),
        )

    def _replies(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params)
        return self._store.thread_payload(
            channel,
            str(params.get("ts") or ""),
            limit=self._limit(params, 1000, 1000),
            cursor=str(params.get("cursor") or ""),
            window=self._window(params),
            metadata=truthy(params.get("include_all_metadata")),
            parent_every_page=self.replies_parent_every_page,
        )

    def _conversation_info(self, params: Params) -> dict[str, Any]:
        channel = self._channel(params, member=False)
        info = {
            "id": channel,
            "name": self.channel_names.get(channel, channel.lower()),
            "is_channel": True,
            "is_private": False,
            "is_archived": False,
            "is_member": channel not in self.not_in_channels,
        }
        return {"ok": True, "channel": info}

    def _user_info(self, params: Params) -> dict[str, Any]:
        user = self.users.get(str(params.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"ok": True, "user": copy.deepcopy(user)}

    def _usergroup_users(self, params: Params) -> dict[str, Any]:
        members = self.usergroups.get(str(params.get("usergroup") or ""))
        if members is None:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(members)}

    def _views_publish(self, params: Params) -> dict[str, Any]:
        user_id, view = str(params.get("user_id") or ""), params.get("view")
        if not user_id or not isinstance(view, dict):
            raise SlackError("invalid_arguments")
        previous = self.views.get(user_id, {})
        published = {
            "id": previous.get("id") or f"V{len(self.views) + 1:010d}",
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "state": {"values": {}},
            "hash": f"{time.time():.6f}",
            **view,
        }
        self.views[user_id] = published
        return {"ok": True, "view": copy.deepcopy(published)}

    def _views_open(self, params: Params) -> dict[str, Any]:
        trigger, view = str(params.get("trigger_id") or ""), params.get("view")
        if not trigger:
            raise SlackError("invalid_trigger_id")
        if not isinstance(view, dict) or view.get("type") != "modal":
            raise SlackError("invalid_arguments")
        opened = {
            "id": f"V{len(self.opened) + 1:010d}",
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "state": {"values": {}},
            "hash": f"{time.time():.6f}",
            **view,
        }
        self.opened.append({"trigger_id": trigger, "view": opened})
        return {"ok": True, "view": copy.deepcopy(opened)}

    def _reactions_add(self, params: Params) -> dict[str, Any]:
        _, message = self._reaction_target(params)
        self._react(message, str(params.get("name") or ""), self.bot_user_id)
        return {"ok": True}

    def _reactions_remove(self, params: Params) -> dict[str, Any]:
        _, message = self._reaction_target(params)
        self._unreact(message, str(params.get("name") or ""), self.bot_user_id)
        return {"ok": True}

    def _reactions_get(self, params: Params) -> dict[str, Any]:
        channel, message = self._reaction_target(params)
        shown = self._store.render(channel, message, include_metadata=False)
        shown["permalink"] = self._link(channel, message)
        return {"ok": True, "type": "message", "channel": channel, "message": shown}
