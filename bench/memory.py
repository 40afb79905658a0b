"""Memory of `smsbridge serve` (issue 9, G8): idle, per stored conversation, under a backlog.

RSS of the server process (VmRSS from /proc), each a fresh process on 127.0.0.1:
- idle: after start-up and 20 texts from new contacts, once all 20 are in Slack posts and
  then neither the Slack nor the Twilio emulator got a call for 3 s (headers, histories and
  card updates done); reference: `bench/bare_endpoint.py` served the same way (uvicorn, the
  same 20 signed webhooks, then 3 s);
- the same with 10,000 stored conversations (contacts, conversations, a text each and the
  inbox entries, written as `bench/home_view.py` fills its large store);
- a backlog: after the idle measurement the Slack emulator answers every call 503, 5,000 texts
  from 1,000 contacts come in, and RSS is taken once they are all acknowledged.
- the floor: the reference carrying, imported and unused, the libraries the contract names
  for the service (`FLOOR_IMPORTS`), served and measured the same way: the least any build
  that keeps to the contract can hold, before a line of its own code or any state.
Then, for the record, the RSS of a bare interpreter after importing each big dependency.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.burst import make_plan, text_shots  # noqa: E402
from bench.harness import (  # noqa: E402
    Server,
    bridge_env,
    emulators,
    environment_lines,
    fire,
    free_port,
    phone,
    serve_command,
    twilio_shot,
)
from bench.home_view import fill  # noqa: E402
from bench.results import write_section  # noqa: E402
from store.engine import make_engine  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from tests.emulators import SlackEmulator, TwilioEmulator  # noqa: E402
from tests.harness import Twilio  # noqa: E402

MIB = 1024
IDLE_RATIO, PER_10K_MIB, BACKLOG_MIB = 1.5, 20.0, 10.0
WARM_TEXTS = 20
# Warm-up MessageSids start here: clear of the stored texts' (1..conversations) and the
# backlog's (from 10**6); a stored sid would make a warm-up text a retry, ignored.
WARM_SID = 10**8
# What the contract names for the service at run time, as a `serve` on SQLite loads them:
# sqlmodel (SQLAlchemy's ORM, pydantic), slack_sdk's Web client, twilio's REST client
# (requests), phonenumbers with its time zones (a contact's zone), python-dotenv. APScheduler
# is left out: smsbridge loads it only for a held reply.
FLOOR_IMPORTS = (
    "sqlmodel",
    "sqlalchemy.orm",
    "slack_sdk.web",
    "twilio.rest",
    "phonenumbers.timezone",
    "dotenv",
)
# Imported alone by a bare interpreter: what each costs in RSS.
MODULES = (
    # What an idle `serve` holds.
    "sqlalchemy",
    "sqlmodel",
    "slack_sdk",
    "twilio.rest",
    # What the first send or history read adds: the generated Account API (~90 modules).
    "twilio.rest.api.v2010.account",
    "phonenumbers",
    "uvicorn",
    "starlette.applications",
    # Imported only when needed (a fresh database, Bolt for a Slack request that is not a
    # thread message, a held reply, a `:code:`, a media download, PostgreSQL), and never.
    "alembic.command",
    "slack_bolt",
    "apscheduler.schedulers.background",
    "emoji",
    "httpx",
    "psycopg",
    "phonenumbers.geocoder",
    # smsbridge's modules.
    "bridge.twilio_webhook",
    "bridge.app",
    "bridge.cli",
)


def warm_body(n: int) -> str:
    """The body of warm-up text `n` (unique in the run, so its post can be found)."""
    return f"warm-up w{n:05d}"


def warm(url: str, first: int, settle: float = 3.0) -> None:
    """WARM_TEXTS signed webhooks from new contacts, then `settle` s of nothing."""
    phone_ = Twilio(base_url=url, public_url=url)
    shots = [
        twilio_shot(
            phone_,
            0,
            f"w{n}",
            WARM_SID + first + n,
            warm_body(first + n),
            phone(900_000 + first + n),
        )
        for n in range(WARM_TEXTS)
    ]
    fired = asyncio.run(fire(shots, lambda: [url], concurrency=5))
    assert len(fired.acked) == WARM_TEXTS and not fired.refused, fired
    time.sleep(settle)


def settled(
    slack: SlackEmulator, twilio_api: TwilioEmulator, first: int, quiet: float, timeout: float
) -> None:
    """Wait until every warm-up text is in a Slack post and then neither API got a call for
    `quiet` s (threads' headers, histories and card updates done): the process is idle."""
    bodies = {warm_body(first + n) for n in range(WARM_TEXTS)}
    deadline = time.monotonic() + timeout
    while True:
        posted = {body for a in slack.arrivals() for body in bodies if body in a.text}
        calls = slack.calls + twilio_api.calls
        last = max((c.at for c in calls), default=0.0)
        if posted == bodies and time.time() - last >= quiet:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"not idle within {timeout} s: {len(posted)} texts posted")
        time.sleep(0.2)


def measure_bare(
    slack: SlackEmulator, twilio_api: TwilioEmulator, tmp: Path, also: tuple[str, ...] = ()
) -> int:
    """Idle RSS of the reference endpoint, importing `also` besides (the floor)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = bridge_env(
        slack=slack,
        twilio=twilio_api,
        database_url="sqlite://",
        public_url=url,
        BARE_DATABASE_URL=f"sqlite:///{tmp / ('floor.db' if also else 'bare.db')}",
        BARE_ALSO_IMPORT=",".join(also),
    )
    command = [sys.executable, "-m", "uvicorn", "--log-level", "warning", "--no-access-log"]
    server = Server(
        [*command, "--port", str(port), "bench.bare_endpoint:app"],
        env,
        port,
        ROOT,
        tmp / ("floor.log" if also else "bare.log"),
    )
    server.start()
    try:
        warm(url, 500 if also else 1)
        return server.rss_kib()
    finally:
        server.stop()


def serve(slack: SlackEmulator, twilio_api: TwilioEmulator, database: Path, tmp: Path) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = bridge_env(
        slack=slack,
        twilio=twilio_api,
        database_url=f"sqlite:///{database}",
        public_url=url,
        AUTORESPOND="off",
        SLACK_POST_RATE="50",
        SLACK_POST_BURST="10",
    )
    return Server(serve_command(port), env, port, ROOT, tmp / f"{database.stem}.log").start()


def idle(
    slack: SlackEmulator, twilio_api: TwilioEmulator, server: Server, first: int
) -> tuple[int, int]:
    """(RSS just after start, RSS once the warm-up texts were posted and 3 s passed quietly)."""
    started = server.rss_kib()
    warm(server.url, first, settle=0)
    settled(slack, twilio_api, first, quiet=3, timeout=120)
    return started, server.rss_kib()


def import_costs() -> list[tuple[str, int]]:
    """RSS of a bare interpreter, then of one that imported each module alone (KiB)."""
    script = (
        "import importlib, sys\n"
        "if sys.argv[1]: importlib.import_module(sys.argv[1])\n"
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmRSS')).split()[1])"
    )
    out = []
    for module in ("", *MODULES):
        done = subprocess.run(
            [sys.executable, "-c", script, module],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        out.append((module or "(bare interpreter)", int(done.stdout.strip())))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--backlog-contacts", type=int, default=1000)
    parser.add_argument("--backlog-texts", type=int, default=5, help="per contact")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    slack, twilio_api = emulators()
    with tempfile.TemporaryDirectory() as tmp_:
        tmp = Path(tmp_)
        bare = measure_bare(slack, twilio_api, tmp)
        floor = measure_bare(slack, twilio_api, tmp, FLOOR_IMPORTS)

        # Migrated beforehand, like the large store: migrations run in-process at start-up
        # otherwise (alembic and friends), which would count against the empty store only.
        migrated = make_engine(f"sqlite:///{tmp / 'empty.db'}")
        upgrade(migrated)
        migrated.dispose()
        empty = serve(slack, twilio_api, tmp / "empty.db", tmp)
        try:
            empty_start, empty_idle = idle(slack, twilio_api, empty, 1000)
            # The backlog: Slack refuses everything while 5,000 texts come in.
            plan = make_plan(
                contacts=args.backlog_contacts,
                per_contact=args.backlog_texts,
                window=1.0,
                exchange=0.5,
                factor=1.0,
                seed=3,
            )
            slack.down = True
            shots = text_shots(
                plan, Twilio(base_url=empty.url, public_url=empty.url), first_sid=10**6
            )
            fired = asyncio.run(fire(shots, lambda: [empty.url], concurrency=50))
            time.sleep(5)
            backlog = empty.rss_kib()
            slack.down = False
        finally:
            empty.stop()

        database = tmp / "large.db"
        engine = make_engine(f"sqlite:///{database}")
        upgrade(engine)
        fill(engine, args.conversations)
        engine.dispose()
        large = serve(slack, twilio_api, database, tmp)
        try:
            large_start, large_idle = idle(slack, twilio_api, large, 2000)
        finally:
            large.stop()
    slack.stop()
    twilio_api.stop()
    costs = import_costs()
    figures = {
        "bare": bare,
        "floor": floor,
        "empty_start": empty_start,
        "empty_idle": empty_idle,
        "large_start": large_start,
        "large_idle": large_idle,
        "backlog": backlog,
    }
    text = report(args, figures, costs, acked=len(fired.acked), refused=len(fired.refused))
    print(text)
    if args.out:
        write_section(args.out, "memory", text)
    return 0


def report(
    args: argparse.Namespace,
    f: dict[str, int],
    costs: list[tuple[str, int]],
    *,
    acked: int,
    refused: int,
) -> str:
    def mib(kib: float) -> str:
        return f"{kib / MIB:.1f}"

    ratio = f["empty_idle"] / f["bare"]
    per_10k = (f["large_idle"] - f["empty_idle"]) / args.conversations * 10_000
    backlog = f["backlog"] - f["empty_idle"]
    texts = args.backlog_contacts * args.backlog_texts

    def mark(ok: bool) -> str:
        return "met" if ok else "**not met**"

    base = costs[0][1]
    lines = [
        "## Memory (G8): RSS of `smsbridge serve`",
        "",
        f"Goal: idle RSS <= {IDLE_RATIO}x the reference's; <= {PER_10K_MIB:g} MiB more per "
        f"10,000 stored conversations; a {texts:,}-text backlog adds <= {BACKLOG_MIB:g} MiB.",
        "",
        *environment_lines("memory.py"),
        "- RSS: VmRSS of the server process from /proc; each server a fresh process, SQLite "
        "(migrated before start-up); "
        f"idle = after start-up and {WARM_TEXTS} texts from new contacts, once all are in Slack "
        "posts and then neither emulator got a call for 3 s",
        "- reference: `bench/bare_endpoint.py` (checks the Twilio signature, parses the form, "
        "stores one row in SQLite, imports nothing of smsbridge's but its engine factory) "
        f"under uvicorn, after the same {WARM_TEXTS} signed webhooks, same run",
        "- floor: the same reference importing, and not using, what the contract names for the "
        f"service ({', '.join(f'`{m}`' for m in FLOOR_IMPORTS)}): the least a build that keeps "
        "to the contract can hold",
        f"- stored conversations: {args.conversations:,} contacts, conversations, one text each "
        "and inbox entries, written before start-up (as `bench/home_view.py` fills its store)",
        f"- backlog: after the idle figure the Slack emulator answers 503 to everything; "
        f"{texts:,} texts from {args.backlog_contacts:,} contacts sent 50 at a time "
        f"({acked} acknowledged, {refused} refused), RSS 5 s after the last",
        "",
        "| process | state | RSS MiB |",
        "|---|---|---|",
        f"| reference (bare endpoint) | idle | {mib(f['bare'])} |",
        f"| floor (reference + the contract's libraries) | idle | {mib(f['floor'])} |",
        f"| smsbridge, empty store | just started | {mib(f['empty_start'])} |",
        f"| smsbridge, empty store | idle | {mib(f['empty_idle'])} |",
        f"| smsbridge, empty store | {texts:,}-text backlog | {mib(f['backlog'])} |",
        f"| smsbridge, {args.conversations:,} conversations | just started | "
        f"{mib(f['large_start'])} |",
        f"| smsbridge, {args.conversations:,} conversations | idle | {mib(f['large_idle'])} |",
        "",
        f"- idle RSS / reference: {ratio:.2f}x: {mark(ratio <= IDLE_RATIO)}",
        f"- the floor / reference: {f['floor'] / f['bare']:.2f}x; what the goal leaves for all "
        f"of smsbridge's own code and state: {mib(IDLE_RATIO * f['bare'] - f['floor'])} MiB; "
        f"smsbridge holds {mib(f['empty_idle'] - f['floor'])} MiB over the floor",
        f"- per 10,000 stored conversations: {per_10k / MIB:+.1f} MiB: "
        f"{mark(per_10k / MIB <= PER_10K_MIB)}",
        f"- the backlog adds {backlog / MIB:+.1f} MiB: {mark(backlog / MIB <= BACKLOG_MIB)}",
        "",
        "Where idle memory goes: RSS of a bare interpreter after importing one module alone "
        "(the same Python, same run):",
        "",
        "| import | RSS MiB | over a bare interpreter |",
        "|---|---|---|",
        *(f"| `{name}` | {mib(kib)} | +{mib(kib - base)} |" for name, kib in costs),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
