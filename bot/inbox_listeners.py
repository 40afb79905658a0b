"""Wiring the inbox's Slack surfaces into the Bolt app: Home tab, header buttons, `/sms`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_bolt import App
from sqlalchemy import Engine

from bot import commands, home, inbox_buttons
from bot.commands import SmsCommand
from bot.home import HomePublisher, InboxLister
from bot.people import SlackPeople
from bot.poster import make_client
from bridge.config import Settings


def register(
    app: App,
    *,
    settings: Settings,
    engine: Engine,
    now: Callable[[], datetime],
    on_stored: Callable[[], None],
) -> None:
    """Register every inbox listener on `app`."""
    assert settings.slack_bot_token is not None
    # Short timeouts: these calls run while Slack waits for an ack or a person for an answer.
    client = make_client(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=5)
    people = SlackPeople(
        client, managers=settings.slack_managers, manager_group=settings.slack_manager_group
    )
    lister = InboxLister(client=client, engine=engine, settings=settings)
    publisher = HomePublisher(client=client, lister=lister, people=people)
    home.register(app, engine=engine, publisher=publisher, now=now)
    inbox_buttons.register(app, engine=engine, people=people, now=now, on_stored=on_stored)
    sms = SmsCommand(engine=engine, settings=settings, people=people, lister=lister, now=now)
    commands.register(app, sms=sms)
