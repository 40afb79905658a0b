"""The composition root: settings in, a running ASGI app (webhooks + delivery worker) out."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from bot.event_intake import SLACK, inbox_channels, slack_handler
from bot.events import SlackEventsEndpoint
from bot.feedback import SlackFeedback
from bot.home_refresh import HomeRefresher, home_refresher
from bot.outage import explain
from bot.people import SlackPeople
from bot.permalinks import SlackLinks
from bot.poster import SlackPoster, make_client
from bot.startup import announce
from bridge.acks_first import AcksFirst
from bridge.auto_texts import AUTORESPOND, SEND_AUTO, AutoResponder
from bridge.backlog import BacklogWatch
from bridge.config import Settings
from bridge.delivery import Delivery
from bridge.flood import Backlog
from bridge.flood_notice import FloodNotice
from bridge.health import healthz
from bridge.held_replies import HELD_NOT_SENT, HOLD_NOTICE
from bridge.inbound import CONSENT_EVENT, FLOOD_NOTE, POST_EVENT, POST_TEXT, UPDATE_CARD
from bridge.inbox import SLA_CHECK
from bridge.intake import IntakeProcessor
from bridge.intake_writer import IntakeWriter
from bridge.logs import RequestIdMiddleware
from bridge.mail_jobs import mail_runners
from bridge.media_endpoint import MediaEndpoint
from bridge.media_setup import media_runners, outbound_media
from bridge.pacing import Budget, SharedPacer
from bridge.parked_notice import ParkedNotice
from bridge.ports import Clock, SystemClock
from bridge.reminders import Reminders
from bridge.reply_intake import DELAY_NOTICE, FAILURE_NOTICE, RECALL_NOTICE, SEND_REPLY
from bridge.reply_sender import ReplySender
from bridge.retention import sweeper_for
from bridge.thread_intro import ThreadIntro
from bridge.twilio_gateway import TwilioGateway
from bridge.twilio_log import TwilioMessageLog
from bridge.twilio_status import TwilioStatusWebhook
from bridge.twilio_webhook import TWILIO, TwilioSmsWebhook, twilio_handler
from bridge.worker import PARKED_NOTICE, DeliveryWorker, Dispatch, JobRunner
from store import intake, jobs, schema_head
from store.engine import is_sqlite, make_engine

log = logging.getLogger(__name__)

ACK_SWITCH_INTERVAL = 0.001


@dataclass
class Service:
    """The parts a process runs: the engine and the delivery worker."""

    settings: Settings
    engine: Engine
    worker: DeliveryWorker
    people: SlackPeople
    home: HomeRefresher | None = None
    backlog: BacklogWatch | None = None

    def start(self) -> None:
        """Start the background work: delivery, Home tabs, the backlog status."""
        self.worker.start()
        for part in (self.home, self.backlog):
            if part is not None:
                part.start()

    def stop(self) -> None:
        """Stop the background work; the worker finishes its current job."""
        for part in (self.home, self.backlog):
            if part is not None:
                part.stop()
        self.worker.stop()


def build_service(
    settings: Settings, *, public_url: str | None = None, clock: Clock | None = None
) -> Service:
    """Wire the database, Slack, Twilio and the worker from settings."""
    clock = clock or SystemClock()
    assert settings.slack_bot_token is not None
    assert settings.twilio_account_sid is not None and settings.twilio_auth_token is not None
    engine = make_engine(settings.database_url)
    client = make_client(token=settings.slack_bot_token, base_url=settings.slack_api_url)
    # Budgets live in the database, so processes sharing it share Slack's and Twilio's limits.
    slack_budget = Budget(rate=settings.slack_post_rate, burst=settings.slack_post_burst)
    poster = SlackPoster(
        client,
        rate=slack_budget.rate,
        burst=slack_budget.burst,
        pacer=SharedPacer(engine, slack_budget.with_reserve()),
    )
    links = SlackLinks(
        make_client(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=5)
    )
    delivery = Delivery(
        sink=poster,
        default_zone=settings.default_timezone,
        policy=settings.quiet_policy,
        opening=thread_intro(settings, sink=poster, links=links),
        flood_limit=settings.flood_limit,
        backlog=backlog_rule(slack_budget),
    )
    public_url = public_url or settings.public_url
    sms = TwilioGateway(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        api_url=settings.twilio_api_url,
        status_callback=f"{public_url.rstrip('/')}/twilio/status" if public_url else None,
    )
    people = SlackPeople(
        client,
        managers=settings.slack_managers,
        manager_group=settings.slack_manager_group,
        # On the service's clock, so a role revoked while a reply is held counts when it is due.
        timer=lambda: clock.now().timestamp(),
    )
    sender = ReplySender(
        settings=settings,
        sms=sms,
        people=people,
        feedback=SlackFeedback(client),
        sink=poster,
        media=outbound_media(settings, client, public_url),
    )
    runners: dict[str, JobRunner] = {
        POST_TEXT: delivery,
        POST_EVENT: delivery,
        UPDATE_CARD: delivery,
    }
    runners |= {SEND_REPLY: sender, RECALL_NOTICE: sender, FAILURE_NOTICE: sender}
    runners |= {DELAY_NOTICE: sender, AUTORESPOND: AutoResponder(settings)}
    runners |= {SEND_AUTO: sender, CONSENT_EVENT: delivery}
    runners |= {HOLD_NOTICE: sender, HELD_NOT_SENT: sender, PARKED_NOTICE: ParkedNotice(poster)}
    runners[FLOOD_NOTE] = FloodNotice(sink=poster, limit=settings.flood_limit or 0)
    runners |= mail_runners(settings, links=links, explain=explain)
    runners |= media_runners(settings, client, sink=poster)
    runners |= {SLA_CHECK: Reminders(settings=settings, sink=poster)}
    sms_budget = SharedPacer(engine, Budget(rate=settings.twilio_mps, burst=1))
    worker = DeliveryWorker(
        engine=engine,
        runner=Dispatch(runners),
        clock=clock,
        lane_pacers={jobs.SMS_LANE: sms_budget},
        # It only decides: when it answers, the answer is a send job of its own.
        unpaced_kinds={AUTORESPOND},
    )
    home = home_refresher(settings, engine=engine, clock=clock)
    watch = BacklogWatch(engine=engine, poster=poster, clock=clock, rate=slack_budget.rate)
    return Service(
        settings=settings, engine=engine, worker=worker, people=people, home=home, backlog=watch
    )


# A channel whose waiting posts need this long at its budget is behind: combine texts.
BACKLOG_SECONDS = 10


def backlog_rule(budget: Budget) -> Backlog:
    """How many waiting Slack jobs in a channel make a backlog, and end it."""
    jobs = max(budget.burst, math.ceil(budget.rate * BACKLOG_SECONDS))
    return Backlog(jobs=jobs, until=min(budget.burst, jobs))


def intake_processor(
    settings: Settings, service: Service, clock: Clock, acks: AcksFirst | None = None
) -> IntakeProcessor:
    """Applies stored webhooks (texts, thread messages); wakes the worker for what they queue.

    In a `serve` process it lets this process's acks go first (`acks`); a `worker` process
    has none, and applies what the HTTP processes stored.
    """
    channels = inbox_channels(settings)
    return IntakeProcessor(
        engine=service.engine,
        handlers={TWILIO: twilio_handler(settings), SLACK: slack_handler(settings, channels)},
        clock=clock,
        on_applied=service.worker.wake,
        acks=acks,
    )


def thread_intro(settings: Settings, *, sink: SlackPoster, links: SlackLinks) -> ThreadIntro:
    """What a new thread begins with: the earlier thread's link, then earlier messages."""
    assert settings.twilio_account_sid is not None and settings.twilio_auth_token is not None
    log_ = TwilioMessageLog(
        account_sid=settings.twilio_account_sid,
        auth_token=settings.twilio_auth_token,
        api_url=settings.twilio_api_url,
    )
    return ThreadIntro(sink=sink, log=log_, links=links)


def prepare_database(engine: Engine) -> None:
    """Migrate, and free the delivery leases a crashed run of this host left behind."""
    if not schema_head.at_head(engine):
        # Alembic only when there is something to do: it stays in memory once imported.
        from store import migrate

        migrate.upgrade(engine)
    # On a SQLite file stored webhooks live in a file of their own (issue 9): an earlier
    # version's backlog moves there.
    if moved := intake.adopt_leftovers(engine):
        log.info("moved %d stored webhooks into the intake file", moved)
    with Session(engine) as session:
        if is_sqlite(engine):
            # SQLite is served by one process only: every lease is a leftover.
            freed = jobs.release_all_locks(session)
        else:
            freed = jobs.release_locks_of_dead_workers(
                session, host=socket.gethostname(), pid=os.getpid(), alive=_alive
            )
    if freed:
        log.info("resuming %d delivery jobs interrupted by the last shutdown", freed)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    return True


def create_app(settings: Settings, *, public_url: str, clock: Clock | None = None) -> Starlette:
    """The ASGI app; its lifespan migrates the database and runs the delivery worker."""
    clock = clock or SystemClock()
    service = build_service(settings, public_url=public_url, clock=clock)
    # Webhooks are stored raw before their ack and applied in the background (issue 9).
    writer = IntakeWriter(service.engine, on_stored=lambda: processor.wake())
    # The intake and the delivery worker let this process's acks go first.
    acks = AcksFirst(service.engine, writer.wait_idle)
    acks.include(service.worker.thread)
    processor = intake_processor(settings, service, clock, acks)
    sms = TwilioSmsWebhook(settings=settings, public_url=public_url, now=clock.now, intake=writer)
    status = TwilioStatusWebhook(
        settings=settings,
        public_url=public_url,
        engine=service.engine,
        now=clock.now,
        on_stored=service.worker.wake,
    )
    files = MediaEndpoint(engine=service.engine, now=clock.now)
    slack = SlackEventsEndpoint(
        settings=settings,
        engine=service.engine,
        now=clock.now,
        on_stored=service.worker.wake,
        people=service.people,
        intake=writer,
    )

    sweeper = sweeper_for(settings, service.engine, clock)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        prepare_database(service.engine)
        # The background threads (intake, delivery) hold the GIL for up to the switch
        # interval whenever a request wants it: 1 ms instead of 5 keeps acks fast (issue 9).
        sys.setswitchinterval(ACK_SWITCH_INTERVAL)
        acks.start()
        service.start()
        processor.start()
        if sweeper is not None:
            sweeper.start()
        log.info("smsbridge is up; Twilio webhook at %s/twilio/sms", public_url.rstrip("/"))
        announcer = announce(settings)
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.stop()
            writer.stop()
            processor.stop()
            service.stop()
            acks.stop()
            intake.engine_for(service.engine).dispose()
            service.engine.dispose()
            announcer.stop()

    routes = [
        Route("/twilio/sms", sms.handle, methods=["POST"]),
        Route("/twilio/status", status.handle, methods=["POST"]),
        Route("/slack/events", slack.handle, methods=["POST"]),
        Route(
            "/healthz",
            healthz(service.engine, clock.now, post_rate=settings.slack_post_rate),
            methods=["GET"],
        ),
        Route("/media/{token}", files.handle, methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(RequestIdMiddleware)])
