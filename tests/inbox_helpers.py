"""Driving the inbox as Slack does: Home tab opens, header clicks and `/sms`, shaped and signed."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlmodel import select

from store.models import Contact
from tests.conftest import CHANNEL, FakeClock
from tests.emulators import SlackEmulator, TwilioEmulator
from tests.harness import AppServer, make_settings
from tests.live import Bridge, bridges
from tests.slack_events import new_ts


@contextlib.contextmanager
def inbox_bridge(
    tmp_path: Path,
    slack: SlackEmulator,
    twilio_api: TwilioEmulator,
    *,
    clock: FakeClock | None = None,
    **env: str,
) -> Iterator[Bridge]:
    """A running app (on `clock` when given) with the users of tests.live."""
    with bridges(tmp_path, slack, twilio_api):
        settings = make_settings(tmp_path, slack, twilio_api, **env)
        server = AppServer(settings, clock=clock).start()
        try:
            yield Bridge(server, slack, twilio_api, settings.database_url)
        finally:
            server.stop()


def open_home(bridge: Bridge, user: str) -> None:
    """The `app_home_opened` event Slack sends when `user` opens the app's Home tab."""
    ts = new_ts()
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D0APPHOME",
        "tab": "home",
        "event_ts": ts,
    }
    assert bridge.events.send_event(event).status_code == 200


def home_text(slack: SlackEmulator, user: str) -> str:
    """The mrkdwn of every block of the Home view published for `user`."""
    view = slack.views.get(user) or {}
    return "\n".join(_texts(view.get("blocks", [])))


def home_rows(slack: SlackEmulator, user: str) -> list[str]:
    """The headline (section) of each conversation on `user`'s Home tab, top to bottom."""
    view = slack.views.get(user) or {}
    return [
        str(b["text"]["text"])
        for b in view.get("blocks", [])
        if b["type"] == "section" and "text" in b
    ]


def _texts(blocks: list[dict[str, Any]]) -> list[str]:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(str(block["text"]["text"]))
        for element in block.get("elements", []):
            if isinstance(element.get("text"), str):
                out.append(element["text"])
            elif isinstance(element.get("text"), dict):
                out.append(str(element["text"]["text"]))
    return out


def header(slack: SlackEmulator, parent_ts: str, channel: str = CHANNEL) -> str:
    """Everything the thread header's blocks say."""
    message = slack.message(channel, parent_ts)
    assert message is not None
    return "\n".join(_texts(message.get("blocks", [])))


def header_button(
    slack: SlackEmulator, parent_ts: str, action_id: str, channel: str = CHANNEL
) -> dict[str, Any] | None:
    """The header's button with `action_id`, if it shows one."""
    message = slack.message(channel, parent_ts)
    assert message is not None
    for block in message.get("blocks", []):
        for element in block.get("elements", []) if block["type"] == "actions" else []:
            if element["action_id"] == action_id:
                return dict(element)
    return None


def click_header(
    bridge: Bridge, parent_ts: str, action_id: str, value: str, user: str, channel: str = CHANNEL
) -> None:
    """A block_actions payload for a button on the thread's parent (the header)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T0001", "domain": "example"},
        "user": {"id": user, "username": user.lower(), "team_id": "T0001"},
        "api_app_id": "A0001",
        "token": "legacy-verification-token",
        "container": {
            "type": "message",
            "message_ts": parent_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": "1.2.3",
        "channel": {"id": channel, "name": "sms-inbox"},
        "message": {"type": "message", "ts": parent_ts, "thread_ts": parent_ts, "text": ""},
        "response_url": "http://127.0.0.1:9/respond",
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "inbox",
                "value": value,
                "action_ts": f"{time.time():.6f}",
                "text": {"type": "plain_text", "text": action_id},
            }
        ],
    }
    assert bridge.events.interaction(payload).status_code == 200


def slash(bridge: Bridge, user: str, text: str, *, signature: str | None = None) -> httpx.Response:
    """`/sms <text>` as Slack posts it: form-encoded, signed, to the events URL."""
    fields = {
        "token": "legacy-verification-token",
        "team_id": "T0001",
        "team_domain": "example",
        "channel_id": CHANNEL,
        "channel_name": "sms-inbox",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/sms",
        "text": text,
        "api_app_id": "A0001",
        "is_enterprise_install": "false",
        "response_url": "http://127.0.0.1:9/commands/T0001/1/x",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }
    body = urlencode(fields)
    built = bridge.events._signed(
        bridge.events.events_path,
        body,
        "application/x-www-form-urlencoded",
        None,
        signature,
        {},
    )
    with httpx.Client(timeout=10) as client:
        return client.send(built)


def answer(response: httpx.Response) -> str:
    """What Slack shows the person who typed the command: the ack's text and blocks."""
    assert response.status_code == 200
    data = response.json()
    assert data.get("response_type") == "ephemeral"
    return "\n".join([str(data.get("text") or ""), *_texts(data.get("blocks") or [])])


def name_contact(bridge: Bridge, phone: str, name: str) -> None:
    """Give a stored contact a name, as an import would."""
    with bridge.database() as session:
        contact = session.exec(select(Contact).where(Contact.phone == phone)).one()
        contact.name = name
        session.add(contact)
        session.commit()


def ephemerals_for(slack: SlackEmulator, user: str) -> list[str]:
    """Texts of the ephemeral messages shown to `user`."""
    return [str(e["text"]) for e in slack.ephemerals if e["user"] == user]


def dump(value: Any) -> str:
    """JSON for assertion messages."""
    return json.dumps(value, indent=1, default=str)[:2000]
