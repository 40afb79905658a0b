"""Slack failing: rate limits, errors, lost answers and restarts never lose or double a text."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import CHANNEL
from tests.emulators import SlackEmulator
from tests.harness import AppServer, Twilio, make_settings, texts_in, wait_for_thread


@contextlib.contextmanager
def serving(tmp_path: Path, slack: SlackEmulator) -> Iterator[Twilio]:
    """The app running on a database in `tmp_path`; a second call restarts it on the same."""
    server = AppServer(make_settings(tmp_path, slack)).start()
    try:
        yield Twilio(server.url, server.url)
    finally:
        server.stop()


def test_a_429_is_honoured_then_the_text_is_posted_once(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=1)
    with serving(tmp_path, slack) as twilio:
        started = time.monotonic()
        twilio.text(1, "hello")
        [parent] = wait_for_thread(slack, replies=1)
        waited = time.monotonic() - started
    assert waited >= 0.9
    assert texts_in(slack, parent["ts"]) == ["hello"]
    assert len(slack.calls_to("chat.postMessage")) == 3


def test_a_500_is_retried_with_backoff(tmp_path: Path, slack: SlackEmulator) -> None:
    slack.fail("chat.postMessage", status=500, times=2)
    with serving(tmp_path, slack) as twilio:
        twilio.text(1, "hello")
        [parent] = wait_for_thread(slack, replies=1)
    assert texts_in(slack, parent["ts"]) == ["hello"]


def test_a_post_whose_answer_was_lost_is_not_posted_twice(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    # Slack posts the header and the text, but both answers come back as 500s.
    slack.fail("chat.postMessage", status=500, times=2, effect=True)
    with serving(tmp_path, slack) as twilio:
        twilio.text(1, "hello")
        [parent] = wait_for_thread(slack, replies=1)
        twilio.text(2, "second")
        wait_for_thread(slack, replies=2)
    assert len(slack.top_level(CHANNEL)) == 1
    assert texts_in(slack, parent["ts"]) == ["hello", "second"]
    assert slack.calls_to("conversations.history") and slack.calls_to("conversations.replies")


def test_a_transient_error_body_is_retried(tmp_path: Path, slack: SlackEmulator) -> None:
    slack.fail("chat.postMessage", error="invalid_auth", times=2)
    with serving(tmp_path, slack) as twilio:
        twilio.text(1, "hello")
        [parent] = wait_for_thread(slack, replies=1)
    assert texts_in(slack, parent["ts"]) == ["hello"]


def test_texts_accepted_while_slack_is_down_are_delivered_after_a_restart(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    slack.down = True
    with serving(tmp_path, slack) as twilio:
        for n, body in enumerate(["one", "two"], start=1):
            assert twilio.text(n, body).status_code == 200
        slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) >= 1)
    slack.down = False
    with serving(tmp_path, slack) as twilio:
        [parent] = wait_for_thread(slack, replies=2)
    assert texts_in(slack, parent["ts"]) == ["one", "two"]


def test_a_deleted_thread_is_opened_again_for_the_next_text(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    with serving(tmp_path, slack) as twilio:
        twilio.text(1, "first")
        [old] = wait_for_thread(slack, replies=1)
        for reply in slack.thread(CHANNEL, old["ts"]):
            slack.delete_message(CHANNEL, reply["ts"])
        slack.delete_message(CHANNEL, old["ts"])
        twilio.text(2, "second")
        [new] = wait_for_thread(slack, replies=1)
    assert new["ts"] != old["ts"] and "+1 415-555-0100" in str(new["blocks"])
    assert texts_in(slack, new["ts"]) == ["second"]
