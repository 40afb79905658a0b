"""The sandbox's page API, without a browser: each action travels the bridge's real paths."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bot.manifest import slash_commands
from tests.sandbox_server import SandboxProcess

PHONE = "+14155550177"


class Page:
    """What the page's JavaScript does, as plain HTTP calls."""

    def __init__(self, url: str) -> None:
        self.api = f"{url}/sandbox/api"

    def post(self, what: str, **payload: Any) -> dict[str, Any]:
        answer = httpx.post(f"{self.api}/{what}", json=payload, timeout=15)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def state(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.api}/state", timeout=15).json()
        return result

    def wait(self, done: Callable[[dict[str, Any]], bool], timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if done(state):
                return state
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed it; last state: {state}")
            time.sleep(0.1)


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    server = SandboxProcess(tmp_path_factory.mktemp("sandbox"), "--sandbox").wait_ready()
    try:
        yield Page(server.url)
    finally:
        server.stop()


def phone_bodies(state: dict[str, Any]) -> list[tuple[str, str, str]]:
    messages = state["phones"].get(PHONE, {"messages": []})["messages"]
    return [(m["direction"], m["body"], m["status"]) for m in messages]


def replies(state: dict[str, Any]) -> list[dict[str, Any]]:
    return list(state["messages"][0]["replies"]) if state["messages"] else []


def test_a_conversation_through_the_sandbox(page: Page) -> None:
    assert page.post("text", phone=PHONE, name="Cal Curl", body="Hello?")["webhook_status"] == 200
    state = page.wait(lambda s: len(replies(s)) >= 2)  # the text and the autoresponse note
    parent = state["messages"][0]
    assert parent["bot"] and "Cal Curl" in parent["text"] and "Never subscribed" in parent["text"]
    assert replies(state)[0]["text"] == "Hello?"

    page.post("text", phone=PHONE, body="START")
    page.wait(lambda s: "Subscribed to SMS" in s["messages"][0]["text"])

    admin = page.post("reply", role="admin", thread_ts=parent["ts"], text="Hi Cal & co")
    assert admin["events_status"] == 200
    # Sent through Twilio's API, then moved to delivered by the status callbacks.
    state = page.wait(lambda s: ("in", "Hi Cal & co", "delivered") in phone_bodies(s))
    sent = next(r for r in replies(state) if r["user"] == state["roles"]["admin"])
    page.wait(lambda s: bool(set(_reply_by(s, sent["ts"])["reactions"]) & _WENT_OUT))

    page.post("reply", role="member", thread_ts=parent["ts"], text="me too")
    state = page.wait(lambda s: any(e["user"] == s["roles"]["member"] for e in s["ephemerals"]))
    [notice] = [e for e in state["ephemerals"] if e["user"] == state["roles"]["member"]]
    assert notice["thread_ts"] == parent["ts"] and "Only workspace owners" in notice["text"]
    assert not any(body == "me too" for _, body, _ in phone_bodies(state))

    clicked = page.post(
        "click", role="owner", ts=parent["ts"], action_id="consent_history", block=2
    )
    assert clicked["events_status"] == 200
    page.wait(lambda s: any("Consent history" in e["text"] for e in s["ephemerals"]))

    # Every delivery was signed as Slack and Twilio sign them, so the bridge took each one;
    # Slack also tells the app of its own posts and edits, which the bridge leaves alone.
    state = page.wait(lambda s: _delivered(s) >= _WANTED)
    assert all(200 <= d["status"] < 300 for d in state["deliveries"]), state["deliveries"]
    assert all(not r["reactions"] for r in replies(state) if r["bot"])
    assert not [e for e in state["ephemerals"] if e["user"] not in state["roles"].values()]


# How a reply shows it left: Twilio has it (📨), or, where delivery is shown, delivered (✅).
_WENT_OUT = {"incoming_envelope", "white_check_mark"}
_WANTED = {
    ("Twilio", "inbound SMS"),
    ("Twilio", "status delivered"),
    ("Slack", "message"),
    ("Slack", "message, the app's own"),
    ("Slack", "message (message_changed), the app's own"),
    ("Slack", "interactivity"),
}


def _delivered(state: dict[str, Any]) -> set[tuple[str, str]]:
    return {(d["from"], d["what"]) for d in state["deliveries"]}


def test_slash_commands_are_delivered_and_answered_privately(page: Page) -> None:
    declared = "/sms" in slash_commands()
    status = page.post("command", role="manager", text="/sms help")["events_status"]
    # Bolt answers 404 to a command it has no listener for; the manifest declares ours.
    assert status == (200 if declared else 404)
    state = page.wait(lambda s: ("Slack", "/sms command") in _delivered(s))
    manager = state["roles"]["manager"]
    if declared:
        page.wait(
            lambda s: any(e["user"] == manager and not e["thread_ts"] for e in s["ephemerals"])
        )
    # An answer sent later to the command's response_url shows the same way.
    later = httpx.post(
        f"{page.api.removesuffix('/api')}/slack/respond/{manager}",
        json={"response_type": "ephemeral", "text": "Here is the inbox, later"},
        timeout=15,
    )
    assert later.status_code == 200
    state = page.state()
    assert any(e["text"] == "Here is the inbox, later" for e in state["ephemerals"])


def test_bad_requests_are_refused_plainly(page: Page) -> None:
    for what, payload in [
        ("text", {"phone": "not a number", "body": "hi"}),
        ("text", {"phone": PHONE, "body": "  "}),
        ("reply", {"role": "intern", "thread_ts": "1.2", "text": "hi"}),
        ("click", {"role": "admin", "ts": "1.2", "action_id": "x", "block": "two"}),
        ("command", {"role": "admin", "text": "sms help"}),
    ]:
        answer = httpx.post(f"{page.api}/{what}", json=payload, timeout=15)
        assert answer.status_code == 400 and "error" in answer.json()


def test_reset_starts_over(page: Page) -> None:
    page.post("text", phone=PHONE, name="Cal Curl", body="START")
    page.wait(lambda s: bool(s["messages"]) and "Subscribed to SMS" in s["messages"][0]["text"])
    page.post("reset")
    state = page.state()
    assert state["messages"] == [] and state["phones"] == {} and state["ephemerals"] == []
    page.post("text", phone=PHONE, body="back again")
    state = page.wait(lambda s: bool(s["messages"]) and len(replies(s)) >= 1)
    header = state["messages"][0]["text"]
    assert "Never subscribed" in header and "Cal" not in header  # the old contact is gone


def _reply_by(state: dict[str, Any], ts: str) -> dict[str, Any]:
    return next(r for r in replies(state) if r["ts"] == ts)
