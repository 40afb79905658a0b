"""Slack failing: rate limits, errors, lost answers and restarts never lose or double a text."""

from __future__ import annotations

import time
from pathlib import Path

from tests.conftest import CHANNEL
from tests.emulators import SlackEmulator
from tests.harness import AppServer, Twilio, make_settings, texts_in, wait_for_thread


def boot(tmp_path: Path, slack: SlackEmulator) -> tuple[AppServer, Twilio]:
    server = AppServer(make_settings(tmp_path, slack)).start()
    return server, Twilio(server.url, server.url)


def test_a_429_is_honoured_then_the_text_is_posted_once(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    slack.fail("chat.postMessage", status=429, retry_after=1)
    server, twilio = boot(tmp_path, slack)
    try:
        started = time.monotonic()
        twilio.text(1, "hello")
        [parent] = wait_for_thread(slack, replies=1)
        waited = time.monotonic() - started
    finally:
        server.stop()
    assert waited >= 0.9
    assert texts_in(slack, parent["ts"]) == ["hello"]
    assert len(slack.calls_to("chat.postMessage")) == 3


def test_a_500_is_retried_with_backoff(tmp_path: Path, slack: SlackEmulator) -> None:
    slack.fail("chat.postMessage", status=500, times=2)
    server, twilio = boot(tmp_path, slack)
    try:
        twilio.text(1, "hello")
        [parent] = wait_for_thread(slack, replies=1)
    finally:
        server.stop()
    assert texts_in(slack, parent["ts"]) == ["hello"]


def test_a_post_whose_answer_was_lost_is_not_posted_twice(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    # Slack posts the header and the text, but both answers come back as 500s.
    slack.fail("chat.postMessage", status=500, times=2, effect=True)
    server, twilio = boot(tmp_path, slack)
    try:
        twilio.text(1, "hello")
        [parent] = wait_for_thread(slack, replies=1)
        twilio.text(2, "second")
        wait_for_thread(slack, replies=2)
    finally:
        server.stop()
    assert len(slack.top_level(CHANNEL)) == 1
    assert texts_in(slack, parent["ts"]) == ["hello", "second"]
    assert slack.calls_to("conversations.history") and slack.calls_to("conversations.replies")


def test_a_transient_error_body_is_retried(tmp_path: Path, slack: SlackEmulator) -> None:
    slack.fail("chat.postMessage", error="invalid_auth", times=2)
    server, twilio = boot(tmp_path, slack)
    try:
        twilio.text(1, "hello")
        [parent] = wait_for_thread(slack, replies=1)
    finally:
        server.stop()
    assert texts_in(slack, parent["ts"]) == ["hello"]


def test_texts_accepted_while_slack_is_down_are_delivered_after_a_restart(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    slack.down = True
    server, twilio = boot(tmp_path, slack)
    try:
        for n, body in enumerate(["one", "two"], start=1):
            assert twilio.text(n, body).status_code == 200
        slack.wait_for(lambda: len(slack.calls_to("chat.postMessage")) >= 1)
    finally:
        server.stop()
    slack.down = False
    server, twilio = boot(tmp_path, slack)
    try:
        [parent] = wait_for_thread(slack, replies=2)
    finally:
        server.stop()
    assert texts_in(slack, parent["ts"]) == ["one", "two"]


def test_a_deleted_thread_is_opened_again_for_the_next_text(
    tmp_path: Path, slack: SlackEmulator
) -> None:
    server, twilio = boot(tmp_path, slack)
    try:
        twilio.text(1, "first")
        [old] = wait_for_thread(slack, replies=1)
        for reply in slack.thread(CHANNEL, old["ts"]):
            slack.delete_message(CHANNEL, reply["ts"])
        slack.delete_message(CHANNEL, old["ts"])
        twilio.text(2, "second")
        [new] = wait_for_thread(slack, replies=1)
    finally:
        server.stop()
    assert new["ts"] != old["ts"] and "+1 415-555-0100" in str(new["blocks"])
    assert texts_in(slack, new["ts"]) == ["second"]
