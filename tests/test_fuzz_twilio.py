"""Hostile input to the Twilio webhooks: truncated, oversized, wrongly encoded, duplicated and
reordered requests. Never a 500, never an error in a worker, and every correctly signed text
is stored once and posted once."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from store import intake
from store.engine import make_engine
from store.jobs import TIMER_LANE
from store.models import DeliveryJob, Message, WebhookIntake
from tests.conftest import CHANNEL
from tests.emulators import SlackEmulator
from tests.fuzzing import ErrorLog, fuzz, tick
from tests.harness import AppServer, Twilio, make_settings

_serial = itertools.count(10_000)
SENDERS = ["+14155550100", "+14155550101", "+442071838750", "+61291234567", "22395"]
body_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=80)


@dataclass
class Server:
    app: AppServer
    engine: Engine
    slack: SlackEmulator
    twilio: Twilio
    errors: ErrorLog


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("fuzz-twilio")
    with SlackEmulator() as slack, ErrorLog() as errors:
        env = {"AUTORESPOND": "off", "OPT_IN_TEXT": "", "HELP_TEXT": ""}
        env |= {"SLACK_POST_RATE": "100", "SLACK_POST_BURST": "100"}
        # Many texts a minute from few numbers: each is to get a post of its own here.
        env["FLOOD_LIMIT"] = "off"
        app_settings = make_settings(tmp, slack, None, **env)
        app = AppServer(app_settings).start()
        engine = make_engine(app_settings.database_url)
        yield Server(app, engine, slack, Twilio(app.url, app.url), errors)
        engine.dispose()
        app.stop()
    assert errors.messages() == []


def stored(server: Server, sid: str) -> int:
    with Session(server.engine) as session:
        query = select(func.count()).select_from(Message).where(Message.twilio_sid == sid)
        return int(session.exec(query).one())


def wait_applied(server: Server) -> None:
    """Until the intake has applied every acked text (stored raw before each 200)."""

    def empty() -> bool:
        with Session(intake.engine_for(server.engine)) as session:
            query = select(func.count()).select_from(WebhookIntake)
            return int(session.exec(query).one()) == 0

    server.slack.wait_for(empty, timeout=15, interval=0.02)


def posts_with(server: Server, marker: str) -> int:
    """Slack messages, anywhere in the inbox, whose text shows `marker`."""
    count = 0
    for parent in server.slack.top_level(CHANNEL):
        count += sum(marker in str(m["text"]) for m in server.slack.thread(CHANNEL, parent["ts"]))
    return count


def drained(server: Server) -> bool:
    with Session(server.engine) as session:
        # Response-time reminders wait by design (their own lane): not undelivered work.
        query = (
            select(func.count())
            .select_from(DeliveryJob)
            .where(DeliveryJob.state == "pending", DeliveryJob.lane != TIMER_LANE)
        )
        return int(session.exec(query).one()) == 0


@fuzz(40)
@given(
    body=body_text,
    cut=st.integers(min_value=0, max_value=400),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16", "cp1252"]),
    oversize=st.sampled_from([0, 0, 0, 70_000]),
)
def test_truncated_re_encoded_or_oversized_bodies_are_refused_and_store_nothing(
    server: Server, body: str, cut: int, encoding: str, oversize: int
) -> None:
    tick("twilio /sms truncated, re-encoded, oversized")
    n = next(_serial)
    params = server.twilio.params(n, body + "x" * oversize, SENDERS[0])
    signature = server.twilio.signature(params)
    raw = urlencode(params, encoding=encoding, errors="replace").encode("ascii")
    truncated = raw[: max(len(raw) - cut, 0)] if cut else raw
    answer = httpx.post(
        f"{server.app.url}/twilio/sms",
        content=truncated,
        headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=10,
    )
    assert answer.status_code < 500, answer.text
    intact = truncated == urlencode(params).encode("ascii")
    if answer.status_code == 200:
        # Only the very request Twilio signed gets in, and then exactly once.
        assert intact and not oversize
        wait_applied(server)
        assert stored(server, params["MessageSid"]) == 1
    else:
        assert answer.status_code in (400, 403, 413)
        wait_applied(server)
        assert stored(server, params["MessageSid"]) == 0
    assert server.errors.messages() == []


@fuzz(20)
@given(
    texts=st.lists(st.tuples(st.sampled_from(SENDERS), body_text), min_size=1, max_size=5),
    repeats=st.lists(st.integers(min_value=0, max_value=4), max_size=6),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_duplicated_and_reordered_texts_are_stored_once_and_posted_once(
    server: Server, texts: list[tuple[str, str]], repeats: list[int], seed: int
) -> None:
    tick("twilio /sms duplicated and reordered")
    shuffle = random.Random(seed)
    requests = []
    for sender, body in texts:
        n = next(_serial)
        # "#n#" cannot be a keyword, and no other text's marker contains it.
        requests.append(server.twilio.params(n, f"#{n}# {body}", sender))
    sequence = requests + [requests[i % len(requests)] for i in repeats]
    shuffle.shuffle(sequence)
    for params in sequence:
        pairs = list(params.items())
        shuffle.shuffle(pairs)  # Twilio's signature does not depend on the parameters' order
        answer = server.twilio.send(dict(pairs))
        assert answer.status_code == 200, answer.text
    wait_applied(server)
    for params in requests:
        assert stored(server, params["MessageSid"]) == 1
    markers = [params["Body"].split(" ", 1)[0] for params in requests]
    server.slack.wait_for(
        lambda: drained(server) and all(posts_with(server, m) >= 1 for m in markers),
        timeout=15,
        interval=0.05,
    )
    assert [posts_with(server, m) for m in markers] == [1] * len(markers)
    assert server.errors.messages() == []


STATUS_FIELDS = ["MessageSid", "MessageStatus", "ErrorCode", "AccountSid", "To", "From"]


@fuzz(40)
@given(
    overrides=st.dictionaries(st.sampled_from(STATUS_FIELDS), body_text, max_size=4),
    dropped=st.lists(st.sampled_from(STATUS_FIELDS), max_size=2),
    status=st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed", "Sent"]),
)
def test_status_callbacks_with_odd_parameters_never_crash(
    server: Server, overrides: dict[str, str], dropped: list[str], status: str
) -> None:
    tick("twilio /status odd parameters")
    params = server.twilio.params(next(_serial), "", SENDERS[0])
    params |= {"MessageStatus": status, "ErrorCode": "30003"}
    params.update(overrides)
    for name in dropped:
        params.pop(name, None)
    answer = server.twilio.send(params, path="/twilio/status")
    # 204 for a reply of ours, 200 for a SID we never sent (issue 8: answered, ignored).
    assert answer.status_code in (200, 204, 400, 403), answer.text
    assert server.errors.messages() == []


def test_a_sid_is_stored_once_whatever_else_a_replay_changes(server: Server) -> None:
    """A replay with the same SID but other words is the same message: the first one wins."""
    n = next(_serial)
    first = server.twilio.params(n, f"#{n}# original", SENDERS[1])
    assert server.twilio.send(first).status_code == 200
    assert server.twilio.send(first | {"Body": "tampered"}).status_code == 200
    with Session(server.engine) as session:
        [message] = session.exec(
            select(Message).where(col(Message.twilio_sid) == first["MessageSid"])
        ).all()
    assert message.body == f"#{n}# original"
