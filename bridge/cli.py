"""The `smsbridge` command line."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from bridge.config import ConfigError, Settings, load_settings
from bridge.logs import configure_logging

log = logging.getLogger("smsbridge")


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, load settings once, and run the command."""
    args = _parser().parse_args(argv)
    if args.command == "manifest":
        from bot.manifest import manifest_text

        print(manifest_text(args.url), end="")
        return 0
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"smsbridge: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    command: str = args.command
    if command == "serve":
        if args.sandbox or settings.is_unconfigured():
            from bridge.sandbox.run import serve_sandbox

            return serve_sandbox(
                settings, host=args.host, port=args.port, allow_remote=args.allow_remote
            )
        return _serve(settings, host=args.host, port=args.port)
    if command == "check":
        from bridge.check import run_check

        return run_check(settings, fix=args.fix)
    if command == "worker":
        return _worker(settings)
    if command == "email":
        from bridge.mail_check import email_test

        return email_test(settings, to=args.to)
    if command == "contacts":
        from bridge.contacts_cli import export_contacts, import_contacts

        if args.contacts_command == "import":
            return import_contacts(settings, Path(args.file))
        if args.contacts_command == "forget":
            from bridge.forget_cli import forget_contact

            return forget_contact(settings, args.number, by=args.by)
        return export_contacts(settings)
    if command == "audit":
        from bridge.audit_cli import audit

        return audit(settings, since=args.since, contact=args.contact, as_csv=args.csv)
    if command == "db":
        return _db_upgrade(settings)
    raise AssertionError(command)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="smsbridge", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="HTTP endpoints, delivery worker and scheduler")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--sandbox", action="store_true", help="the built-in sandbox: emulated Slack and Twilio"
    )
    serve.add_argument(
        "--allow-remote", action="store_true", help="let the sandbox listen beyond this machine"
    )
    manifest = commands.add_parser("manifest", help="print the Slack app manifest")
    manifest.add_argument("--url", required=True, type=_public_url, help="e.g. https://sms.x.com")
    check = commands.add_parser("check", help="check the configuration against Slack and Twilio")
    check.add_argument(
        "--fix", action="store_true", help="point the numbers' SMS webhooks at PUBLIC_URL"
    )
    commands.add_parser("worker", help="delivery worker without HTTP")
    contacts = commands.add_parser("contacts", help="contact lists as CSV")
    contacts_commands = contacts.add_subparsers(dest="contacts_command", required=True)
    importer = contacts_commands.add_parser(
        "import", help="create or update contacts from a CSV with phone,name,consent,timezone"
    )
    importer.add_argument("file")
    contacts_commands.add_parser("export", help="every contact as CSV on standard output")
    forget = contacts_commands.add_parser(
        "forget", help="erase a contact's messages and profile, keeping only their opt-out"
    )
    forget.add_argument("number")
    forget.add_argument("--by", help="who asked, for the audit log (default: cli:USER)")
    audit = commands.add_parser(
        "audit", help="sends, refusals, overrides, consent changes and erasures: who and when"
    )
    audit.add_argument("--since", help="2026-03-01, 2026-03-01T14:00, or 7d, 12h, 30m")
    audit.add_argument("--contact", metavar="NUMBER", help="only this contact")
    audit.add_argument("--csv", action="store_true", help="CSV instead of a table")
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply schema migrations")
    email = commands.add_parser("email", help="mail (SMTP_URL)")
    email_commands = email.add_subparsers(dest="email_command", required=True)
    email_test = email_commands.add_parser("test", help="send a test mail, show the answer")
    email_test.add_argument("--to", action="append", default=[], metavar="ADDRESS")
    return parser


def _public_url(raw: str) -> str:
    from bot.manifest import NotAUrl, public_base

    try:
        return public_base(raw)
    except NotAUrl as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _require_credentials(settings: Settings) -> bool:
    missing = settings.missing_credentials()
    if missing:
        print(
            "smsbridge: set " + ", ".join(missing) + " in the environment or .env "
            "(see .env.example), or unset them all to try the built-in sandbox",
            file=sys.stderr,
        )
        return False
    return True


def _serve(settings: Settings, *, host: str, port: int) -> int:
    import uvicorn

    from bridge.app import create_app

    if not _require_credentials(settings):
        return 2
    public_url = settings.public_url or f"http://{host}:{port}"
    app = create_app(settings, public_url=public_url)
    # log_config=None: uvicorn logs through our handler (JSON off a terminal) too.
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=settings.log_level.lower(),
        access_log=False,
        log_config=None,
    )
    return 0


def _worker(settings: Settings) -> int:
    from bridge.app import build_service, intake_processor, prepare_database

    if not _require_credentials(settings):
        return 2
    service = build_service(settings)
    prepare_database(service.engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    from bridge.ports import SystemClock
    from bridge.retention import sweeper_for

    sweeper = sweeper_for(settings, service.engine, SystemClock())
    # Webhooks stored by the HTTP processes are applied by whichever process gets to them.
    processor = intake_processor(settings, service, SystemClock())
    service.start()
    processor.start()
    if sweeper is not None:
        sweeper.start()
    log.info("delivery worker running")
    from bot.startup import announce

    announcer = announce(settings)
    stop.wait()
    if sweeper is not None:
        sweeper.stop()
    processor.stop()
    service.stop()
    announcer.stop()
    return 0


def _db_upgrade(settings: Settings) -> int:
    from store.engine import make_engine
    from store.migrate import upgrade

    upgrade(make_engine(settings.database_url))
    print("database is at the newest schema")
    return 0
