"""The Slack app manifest grants a scope for every Web API method the code calls."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Which scopes allow each method (any one suffices), from Slack's method reference.
METHOD_SCOPES = {
    "chat_postMessage": {"chat:write"},
    "chat_update": {"chat:write"},
    "conversations_history": {"channels:history", "groups:history"},
    "conversations_replies": {"channels:history", "groups:history"},
    "conversations_info": {"channels:read", "groups:read"},
    "chat_postEphemeral": {"chat:write"},
    "chat_getPermalink": set(),  # needs no scope
    "views_open": set(),  # needs no scope: the trigger_id is the permission
    "reactions_add": {"reactions:write"},
    "reactions_remove": {"reactions:write"},
    "users_info": {"users:read"},
    "usergroups_users_list": {"usergroups:read"},
    "files_upload_v2": {"files:write"},
    "files_info": {"files:read"},
    "views_publish": set(),  # needs no scope
}
# Which events each bot event subscription delivers, and so needs a listener.
SUBSCRIPTION_EVENTS = {
    "message.channels": "message",
    "message.groups": "message",
    "app_home_opened": "app_home_opened",
}


def test_every_called_method_is_covered_by_a_scope() -> None:
    manifest = yaml.safe_load((ROOT / "manifests" / "slack-app.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    source = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    families = "chat|conversations|users|usergroups|reactions|views|files"
    called = set(re.findall(rf'"((?:{families})_[A-Za-z]+)"', source))
    assert called, "the scan found no Slack calls"
    for method in called:
        assert method in METHOD_SCOPES, f"add {method} to METHOD_SCOPES"
        needs = METHOD_SCOPES[method]
        assert not needs or needs & scopes, f"no scope in the manifest allows {method}"


def test_every_subscribed_event_has_a_listener() -> None:
    """Bolt answers 404 to an event without a listener, and Slack counts those failures."""
    manifest = yaml.safe_load((ROOT / "manifests" / "slack-app.yaml").read_text())
    subscribed = manifest["settings"]["event_subscriptions"]["bot_events"]
    source = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    for subscription in subscribed:
        event = SUBSCRIPTION_EVENTS[subscription]
        assert f'.event("{event}")' in source, f"no listener for {subscription}"


def test_every_slash_command_has_a_listener_and_the_scope() -> None:
    manifest = yaml.safe_load((ROOT / "manifests" / "slack-app.yaml").read_text())
    commands = manifest["features"]["slash_commands"]
    assert commands, "the manifest declares no slash command"
    assert "commands" in manifest["oauth_config"]["scopes"]["bot"]
    source = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    for command in commands:
        assert f'COMMAND = "{command["command"]}"' in source, f"no listener for {command}"


def test_the_home_tab_is_enabled() -> None:
    manifest = yaml.safe_load((ROOT / "manifests" / "slack-app.yaml").read_text())
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
