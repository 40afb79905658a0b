"""The thread header's inbox buttons: Mark read, Claim (or take over) and Resolve."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import Session

from bot.feedback import SlackFeedback
from bot.inbox_access import access_of
from bot.inbox_blocks import CLAIM, MARK_READ, RESOLVE
from bridge.ids import ChannelId, SlackTs
from bridge.inbox import Act, act
from bridge.ports import People
from store.engine import write_gate

log = logging.getLogger(__name__)

_ACTS = {MARK_READ: Act.READ, CLAIM: Act.CLAIM, RESOLVE: Act.RESOLVE}


def register(
    app: App,
    *,
    engine: Engine,
    people: People,
    now: Callable[[], datetime],
    on_stored: Callable[[], None],
) -> None:
    """Each button: ack at once; the role check (a Slack call) and the change run after it."""

    def run(body: dict[str, Any], client: WebClient) -> None:
        click = _click(body)
        if click is None:
            return
        channel, user, thread_ts, action_id, value = click
        access = access_of(people, user)
        if not access.allowed:
            text = access.reason
        elif not value.isdecimal():
            return
        else:
            with write_gate(engine), Session(engine) as session:
                result = act(
                    session, conversation_id=int(value), actor=user, what=_ACTS[action_id], at=now()
                )
            if result.changed:
                on_stored()
            text = result.text
        SlackFeedback(client).tell(channel, user, thread_ts, text, markup=True)

    for action_id in _ACTS:
        app.action(action_id)(ack=_ack, lazy=[run])


def _ack(ack: Ack) -> None:
    ack()


def _click(body: dict[str, Any]) -> tuple[ChannelId, str, SlackTs, str, str] | None:
    """Where, by whom, which button and its value; None for a malformed payload."""
    try:
        action = body["actions"][0]
        message = body.get("message") or {}
        container = body.get("container") or {}
        # The header is the thread's parent: answer in its thread.
        thread_ts = message.get("thread_ts") or container.get("message_ts") or ""
        return (
            ChannelId(str(body["channel"]["id"])),
            str(body["user"]["id"]),
            SlackTs(str(thread_ts)),
            str(action["action_id"]),
            str(action.get("value") or ""),
        )
    except (KeyError, IndexError, TypeError, AttributeError):
        log.debug("ignored a malformed inbox button click")
        return None
