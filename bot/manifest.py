"""The Slack app manifest in `manifests/`: its text with our URLs, and the scopes it asks for."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

MANIFEST_PATH = Path(__file__).resolve().parent.parent / "manifests" / "slack-app.yaml"
PLACEHOLDER = "https://smsbridge.example.com"


class NotAUrl(ValueError):
    """The text given as the service's public URL is not an http(s) URL with a host."""


def public_base(raw: str) -> str:
    """`raw` as a base URL without a trailing slash; NotAUrl when it is not one."""
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NotAUrl(f"{raw!r} is not an http(s) URL such as https://sms.example.com")
    if parts.query or parts.fragment:
        raise NotAUrl(f"{raw!r} has a query or fragment; give the base URL only")
    return raw.strip().rstrip("/")


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (localhost or a loopback address)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def manifest_text(url: str, path: Path = MANIFEST_PATH) -> str:
    """The manifest as YAML, comments kept, with every request URL under `url`."""
    return path.read_text(encoding="utf-8").replace(PLACEHOLDER, public_base(url))


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    """The manifest parsed."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} is not a Slack app manifest")
    return loaded


def bot_scopes(manifest: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The bot token scopes the manifest asks for, in its order."""
    manifest = manifest if manifest is not None else load_manifest()
    return tuple(str(s) for s in manifest["oauth_config"]["scopes"]["bot"])


def bot_events(manifest: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The bot events the manifest subscribes to."""
    manifest = manifest if manifest is not None else load_manifest()
    events = manifest["settings"].get("event_subscriptions", {}).get("bot_events", [])
    return tuple(str(e) for e in events)


def slash_commands(manifest: dict[str, Any] | None = None) -> tuple[str, ...]:
    """The slash commands the manifest declares ("/sms", ...)."""
    manifest = manifest if manifest is not None else load_manifest()
    commands = manifest.get("features", {}).get("slash_commands", [])
    return tuple(str(c["command"]) for c in commands)
