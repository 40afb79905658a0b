"""Starting the sandbox: when it starts, what it says, and when it refuses."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import base_env
from tests.sandbox_server import SandboxProcess
from tests.test_cli import smsbridge


def test_serve_without_any_credentials_starts_the_sandbox_and_says_so(tmp_path: Path) -> None:
    server = SandboxProcess(tmp_path)
    try:
        server.wait_ready()
        page = httpx.get(f"{server.url}/sandbox", timeout=5)
        assert page.status_code == 200 and "Customer's phone" in page.text
        root = httpx.get(f"{server.url}/", timeout=5, follow_redirects=True)
        assert root.url.path == "/sandbox"
        assert "built-in sandbox" in server.output() and f"{server.url}/sandbox" in server.output()
        # The bridge reached the emulated Slack over HTTP at the sandbox's own address.
        wait_until(lambda: "serving Slack workspace" in server.output())
        assert "channels C0SANDBOX; numbers +1********00" in server.output()
        # Off a terminal every log line is JSON, uvicorn's included.
        logged = [line for line in server.output().splitlines() if line.startswith("{")]
        assert len(logged) == len(server.output().splitlines()) - 1  # all but the banner
        assert {"time", "level", "logger", "message"} <= json.loads(logged[0]).keys()
        assert any(json.loads(line)["logger"].startswith("uvicorn") for line in logged)
        # The bridge inside is the real one: an unsigned "Twilio" webhook is refused.
        forged = {"From": "+14155550100", "To": "+15550100100", "Body": "hi", "MessageSid": "SMx"}
        assert httpx.post(f"{server.url}/twilio/sms", data=forged, timeout=5).status_code == 403
    finally:
        server.stop()
    assert (tmp_path / "smsbridge-sandbox.db").is_file()


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_the_sandbox_refuses_a_host_beyond_this_machine(tmp_path: Path) -> None:
    done = smsbridge(tmp_path, "serve", "--sandbox", "--host", "0.0.0.0", "--port", "1")
    assert done.returncode == 2
    assert "--allow-remote" in done.stderr and "Traceback" not in done.stderr


def test_the_sandbox_never_runs_with_real_credentials(tmp_path: Path) -> None:
    done = smsbridge(tmp_path, "serve", "--sandbox", "--port", "1", **base_env())
    assert done.returncode == 2
    assert "never runs with real Slack or Twilio settings" in done.stderr
    for secret in base_env().values():
        if not secret.startswith(("C0", "+1", "AC")):
            assert secret not in done.stderr


def test_a_partial_configuration_is_not_mistaken_for_the_sandbox(tmp_path: Path) -> None:
    done = smsbridge(tmp_path, "serve", "--port", "1", TWILIO_FROM="+15550001111")
    assert done.returncode == 2
    assert "SLACK_BOT_TOKEN" in done.stderr and "sandbox" in done.stderr
