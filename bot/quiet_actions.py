"""Bolt listeners for quiet hours: Send now and Cancel on a held reply, and Set time zone."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from sqlalchemy import Engine
from sqlmodel import Session

from bot.blocks import (
    CANCEL_HELD,
    SEND_HELD_NOW,
    SET_TIMEZONE,
    TIMEZONE_BLOCK,
    TIMEZONE_INPUT,
    timezone_modal,
)
from bot.feedback import SlackFeedback
from bot.slack_api import call
from bridge.contact_zone import set_zone, zone_problem
from bridge.gates import ALLOWED_ROLES
from bridge.held_replies import PressResult, cancel, press_answer, send_now
from bridge.ids import ChannelId, SlackTs
from bridge.ports import ChatUnavailable, People
from store.engine import write_gate
from store.models import Contact

log = logging.getLogger(__name__)


class QuietActions:
    """Presses on held replies and the time zone dialog; each press is recorded."""

    def __init__(
        self,
        *,
        engine: Engine,
        people: People,
        now: Callable[[], datetime],
        on_stored: Callable[[], None],
    ) -> None:
        self._engine = engine
        self._people = people
        self._now = now
        self._on_stored = on_stored

    def register(self, app: App) -> None:
        """Attach the listeners; what calls Slack back runs lazily, after the ack."""
        app.action(SEND_HELD_NOW)(ack=_ack, lazy=[self._send_now])
        app.action(CANCEL_HELD)(ack=_ack, lazy=[self._cancel])
        app.action(SET_TIMEZONE)(ack=_ack, lazy=[self._open_zone_dialog])
        app.view(SET_TIMEZONE)(self._save_zone)

    def _send_now(self, body: dict[str, Any], client: WebClient) -> None:
        self._press(body, client, send_now)

    def _cancel(self, body: dict[str, Any], client: WebClient) -> None:
        self._press(body, client, cancel)

    def _press(self, body: dict[str, Any], client: WebClient, press: Callable[..., Any]) -> None:
        where = _where(body)
        if where is None or not where[3].isdecimal():
            return
        channel, user, thread_ts, value = where
        role = self._people.role_of(user)
        with write_gate(self._engine), Session(self._engine) as session:
            result: PressResult = press(
                session, message_id=int(value), user=user, role=role, at=self._now()
            )
        log.info("held reply %s: %s pressed by %s", value, result.press.value, user)
        self._on_stored()
        SlackFeedback(client).tell(channel, user, thread_ts, press_answer(result))

    def _open_zone_dialog(self, body: dict[str, Any], client: WebClient) -> None:
        value = str((body.get("actions") or [{}])[0].get("value") or "")
        trigger = body.get("trigger_id")
        if not value.isdecimal() or not isinstance(trigger, str):
            return
        with Session(self._engine) as session:
            contact = session.get(Contact, int(value))
            current = (contact.timezone if contact else None) or ""
        try:
            call(client, "views_open", trigger_id=trigger, view=timezone_modal(int(value), current))
        except ChatUnavailable as failed:
            log.warning("could not open the time zone dialog: %s", failed.reason)

    def _save_zone(self, ack: Ack, body: dict[str, Any]) -> None:
        """Checked before the ack, so a bad name is shown in the dialog itself."""
        user = str((body.get("user") or {}).get("id") or "")
        view = body.get("view") or {}
        contact_id = str(view.get("private_metadata") or "")
        values = (view.get("state") or {}).get("values") or {}
        zone = str(
            ((values.get(TIMEZONE_BLOCK) or {}).get(TIMEZONE_INPUT) or {}).get("value") or ""
        )
        if not contact_id.isdecimal():
            ack()
            return
        if self._people.role_of(user) not in ALLOWED_ROLES:
            problem: str | None = "Only owners, admins and SMS managers can set a time zone."
        else:
            problem = zone_problem(zone.strip())
        if problem is None:
            with write_gate(self._engine), Session(self._engine) as session:
                problem = set_zone(
                    session, contact_id=int(contact_id), zone=zone, actor=user, at=self._now()
                )
        if problem:
            ack(response_action="errors", errors={TIMEZONE_BLOCK: problem})
            return
        log.info("contact %s time zone set by %s", contact_id, user)
        ack()
        self._on_stored()


def _where(body: dict[str, Any]) -> tuple[ChannelId, str, SlackTs, str] | None:
    """Channel, presser, thread and button value of a click on an ephemeral notice."""
    try:
        action = body["actions"][0]
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        thread_ts = container.get("thread_ts") or (body.get("message") or {}).get("thread_ts")
        return (
            ChannelId(str(channel)),
            str(body["user"]["id"]),
            SlackTs(str(thread_ts or "")),
            str(action.get("value") or ""),
        )
    except (KeyError, IndexError, TypeError, AttributeError):
        log.debug("ignored a malformed button click")
        return None


def _ack(ack: Ack) -> None:
    ack()
