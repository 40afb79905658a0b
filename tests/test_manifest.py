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
}


def test_every_called_method_is_covered_by_a_scope() -> None:
    manifest = yaml.safe_load((ROOT / "manifests" / "slack-app.yaml").read_text())
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    source = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    called = set(re.findall(r'"((?:chat|conversations|users|views|files)_[A-Za-z]+)"', source))
    assert called, "the scan found no Slack calls"
    for method in called:
        assert method in METHOD_SCOPES, f"add {method} to METHOD_SCOPES"
        assert METHOD_SCOPES[method] & scopes, f"no scope in the manifest allows {method}"
