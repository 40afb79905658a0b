"""The Slack app manifest and the code stay in step: events, commands, buttons and scopes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from slack_bolt import App, BoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.events import SlackEventsEndpoint
from bot.manifest import MANIFEST_PATH, PLACEHOLDER, bot_events, load_manifest, slash_commands
from bridge.config import Settings
from store.engine import make_engine
from tests.conftest import SIGNING_SECRET
from tests.emulators import SlackEmulator
from tests.harness import make_settings

ROOT = Path(__file__).resolve().parent.parent
# Which scopes allow each method (any one suffices), from Slack's method reference.
METHOD_SCOPES = {
    "auth_test": set(),  # needs no scope
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
_FAMILIES = "auth|chat|conversations|users|usergroups|reactions|views|files"
# Called by name (`call(client, "chat_update", ...)`) or as a method (`client.auth_test(...)`).
_CALLED = re.compile(rf'"((?:{_FAMILIES})_[A-Za-z_]+)"|\.((?:{_FAMILIES})_[A-Za-z_]+)\(')


class Registrations:
    """What the real app registers with Bolt, recorded as it registers it."""

    def __init__(self) -> None:
        self.events: set[str] = set()
        self.commands: set[str] = set()
        self.actions: set[str] = set()


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> Registrations:
    """Record every App.event / App.command / App.action the bridge makes from now on."""
    seen = Registrations()

    def recording(name: str, into: set[str]) -> None:
        original = getattr(App, name)

        def wrapper(self: App, key: Any, *args: Any, **kwargs: Any) -> Any:
            into.add(key if isinstance(key, str) else str(key.get("type", key)))
            return original(self, key, *args, **kwargs)

        monkeypatch.setattr(App, name, wrapper)

    recording("event", seen.events)
    original_message = App.message

    def message(self: App, *args: Any, **kwargs: Any) -> Any:
        seen.events.add("message")  # app.message(...) listens to message events
        return original_message(self, *args, **kwargs)

    monkeypatch.setattr(App, "message", message)
    recording("command", seen.commands)
    recording("action", seen.actions)
    return seen


@pytest.fixture
def settings_for_slack(tmp_path: Path, slack: SlackEmulator) -> Settings:
    return make_settings(tmp_path, slack)


@pytest.fixture
def endpoint(
    registered: Registrations, settings_for_slack: Settings, slack: SlackEmulator
) -> Iterator[SlackEventsEndpoint]:
    engine = make_engine(settings_for_slack.database_url)
    try:
        endpoint = SlackEventsEndpoint(
            settings=settings_for_slack,
            engine=engine,
            now=lambda: datetime.now(UTC),
            on_stored=lambda: None,
        )
        assert endpoint.bolt is not None  # built, as on the first request that needs it
        yield endpoint
    finally:
        engine.dispose()


def event_type(subscription: str) -> str:
    """`message.channels` delivers `message` events; the others are named as subscribed."""
    return subscription.split(".", 1)[0]


def test_every_subscribed_event_has_a_listener(
    endpoint: SlackEventsEndpoint, registered: Registrations
) -> None:
    """Bolt answers 404 to an event without a listener, and Slack counts those failures."""
    subscribed = bot_events()
    assert subscribed, "the manifest subscribes to no events"
    for subscription in subscribed:
        assert event_type(subscription) in registered.events, f"no listener for {subscription}"
        answer = dispatch(endpoint, event_envelope(subscription))
        assert answer.status != 404, f"Bolt has no listener for {subscription}"


def test_every_listened_event_is_subscribed(
    endpoint: SlackEventsEndpoint, registered: Registrations
) -> None:
    """A listener whose event is not subscribed never runs: Slack does not send it."""
    delivered = {event_type(s) for s in bot_events()}
    assert registered.events, "the app registered no event listener"
    missing = registered.events - delivered
    assert not missing, f"subscribe to {sorted(missing)} in manifests/slack-app.yaml"


def test_slash_commands_and_listeners_match(
    endpoint: SlackEventsEndpoint, registered: Registrations
) -> None:
    assert set(slash_commands()) == registered.commands
    scopes = load_manifest()["oauth_config"]["scopes"]["bot"]
    assert not registered.commands or "commands" in scopes


def test_the_home_tab_is_on_exactly_when_something_publishes_it(
    endpoint: SlackEventsEndpoint, registered: Registrations
) -> None:
    home = load_manifest()["features"].get("app_home", {})
    listens = "app_home_opened" in registered.events
    assert bool(home.get("home_tab_enabled")) == listens, "app_home and its listener disagree"


def test_buttons_need_interactivity(
    endpoint: SlackEventsEndpoint, registered: Registrations
) -> None:
    interactivity = load_manifest()["settings"]["interactivity"]
    assert registered.actions, "the app registered no button listener"
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"] == f"{PLACEHOLDER}/slack/events"


def test_every_called_method_is_covered_by_a_scope() -> None:
    manifest = yaml.safe_load(MANIFEST_PATH.read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    sources = [*(ROOT / "bot").rglob("*.py"), *(ROOT / "bridge").rglob("*.py")]
    source = "\n".join(p.read_text() for p in sources if "emulators" not in p.parts)
    called = {a or b for a, b in _CALLED.findall(source)}
    assert {"chat_postMessage", "auth_test", "conversations_info"} <= called, called
    for method in called:
        assert method in METHOD_SCOPES, f"add {method} to METHOD_SCOPES"
        needs = METHOD_SCOPES[method]
        assert not needs or needs & scopes, f"no scope in the manifest allows {method}"


def test_every_scope_says_why() -> None:
    lines = MANIFEST_PATH.read_text().splitlines()
    for index, line in enumerate(lines):
        if re.fullmatch(r"\s+- [a-z]+:[a-z]+", line):
            above = lines[index - 1].strip()
            assert above.startswith(("#", "- ")), f"say why {line.strip()} is needed"


def event_envelope(subscription: str) -> dict[str, Any]:
    kind = event_type(subscription)
    event: dict[str, Any] = {"type": kind, "user": "UMEMBER", "event_ts": "1700000000.000100"}
    if kind == "message":
        channel_type = "group" if subscription.endswith("groups") else "channel"
        event |= {"channel": "CELSEWHERE", "channel_type": channel_type, "text": "hi"}
        event["ts"] = event["event_ts"]
    if kind == "app_home_opened":
        event |= {"channel": "D0HOME", "tab": "home"}
    return {
        "token": "legacy",
        "team_id": "T0001",
        "api_app_id": "A0001",
        "event": event,
        "type": "event_callback",
        "event_id": "Ev0MANIFEST1",
        "event_time": 1700000000,
        "authorizations": [{"team_id": "T0001", "user_id": "UBOT", "is_bot": True}],
    }


def dispatch(endpoint: SlackEventsEndpoint, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload)
    stamp = str(int(time.time()))
    signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body)
    headers: dict[str, str | Sequence[str]] = {
        "content-type": ["application/json"],
        "x-slack-request-timestamp": [stamp],
        "x-slack-signature": [str(signature)],
    }
    run: Callable[[BoltRequest], Any] = endpoint.bolt.dispatch
    return run(BoltRequest(body=body, headers=headers))
