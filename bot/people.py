"""Who is who in Slack: roles, display names and channel names, cached for a short while."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from cachetools import TTLCache
from slack_sdk import WebClient

from bot.slack_api import call
from bridge.ports import ChatUnavailable, Role

log = logging.getLogger(__name__)

# users.info and usergroups.users.list are Tier 4 and 2: a burst of replies must not hammer
# them, and a minute is short enough for a promotion or a removal to take effect.
CACHE_SECONDS = 60.0


class SlackPeople:
    """Implements the domain's People with users.info, usergroups.users.list, conversations.info."""

    def __init__(
        self,
        client: WebClient,
        *,
        managers: tuple[str, ...],
        manager_group: str | None,
        ttl: float = CACHE_SECONDS,
        timer: Callable[[], float] | None = None,
    ) -> None:
        self._client = client
        self._managers = frozenset(managers)
        self._manager_group = manager_group
        self._users: TTLCache[str, dict[str, Any] | None] = _cache(ttl, timer)
        self._channels: TTLCache[str, str | None] = _cache(ttl, timer)
        self._groups: TTLCache[str, frozenset[str]] = _cache(ttl, timer)
        self._lock = threading.Lock()

    def role_of(self, user_id: str) -> Role:
        """Owner/admin from the user's flags; manager by list or group; never guests or bots."""
        user = self._user(user_id)
        if user is None:
            return Role.UNKNOWN
        if user.get("deleted"):
            return Role.DEACTIVATED
        if user.get("is_bot") or user_id == "USLACKBOT":
            return Role.BOT
        if user.get("is_restricted") or user.get("is_ultra_restricted"):
            return Role.GUEST
        if user.get("is_owner") or user.get("is_primary_owner"):
            return Role.OWNER
        if user.get("is_admin"):
            return Role.ADMIN
        if user_id in self._managers or user_id in self._group_members():
            return Role.MANAGER
        return Role.MEMBER

    def display_name(self, user_id: str) -> str | None:
        """The profile's display name, else the real name, else the handle."""
        try:
            user = self._user(user_id)
        except ChatUnavailable:
            return None
        if user is None:
            return None
        profile = user.get("profile") or {}
        for name in (profile.get("display_name"), profile.get("real_name"), user.get("name")):
            if name:
                return str(name)
        return None

    def channel_name(self, channel_id: str) -> str | None:
        """The channel's name, or None when Slack will not say."""
        with self._lock:
            if channel_id in self._channels:
                return self._channels[channel_id]
        try:
            info = call(self._client, "conversations_info", channel=channel_id)
            name: str | None = str((info.get("channel") or {}).get("name") or "") or None
        except ChatUnavailable:
            return None
        with self._lock:
            self._channels[channel_id] = name
        return name

    def _user(self, user_id: str) -> dict[str, Any] | None:
        with self._lock:
            if user_id in self._users:
                return self._users[user_id]
        try:
            user: dict[str, Any] | None = call(self._client, "users_info", user=user_id)["user"]
        except ChatUnavailable as unavailable:
            if unavailable.reason not in ("user_not_found", "user_not_visible"):
                raise
            user = None
        with self._lock:
            self._users[user_id] = user
        return user

    def _group_members(self) -> frozenset[str]:
        group = self._manager_group
        if not group:
            return frozenset()
        with self._lock:
            if group in self._groups:
                return self._groups[group]
        try:
            users = call(self._client, "usergroups_users_list", usergroup=group)["users"]
            members = frozenset(str(u) for u in users)
        except ChatUnavailable as unavailable:
            if unavailable.reason not in ("no_such_subteam", "subteam_not_found"):
                raise
            log.warning("SLACK_MANAGER_GROUP names a user group Slack does not know")
            members = frozenset()
        with self._lock:
            self._groups[group] = members
        return members


def _cache(ttl: float, timer: Callable[[], float] | None) -> TTLCache[Any, Any]:
    if timer is None:
        return TTLCache(maxsize=2048, ttl=ttl)
    return TTLCache(maxsize=2048, ttl=ttl, timer=timer)
