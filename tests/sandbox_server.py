"""`smsbridge serve --sandbox` as a user starts it: a process of its own, in its own folder."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SandboxProcess:
    """The sandbox server in a subprocess; `url` is its base address."""

    def __init__(self, cwd: Path, *args: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **env}
        self.log = cwd / "sandbox.log"
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bridge", "serve", "--port", str(self.port), *args],
            cwd=cwd,
            env=environ,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30) -> SandboxProcess:
        """Wait until the bridge inside answers /healthz."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the sandbox exited:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        output = self.output()
        self.stop()  # the caller never gets the process to stop: it must not outlive the test
        raise RuntimeError(f"the sandbox did not come up:\n{output}")

    def output(self) -> str:
        """What the process printed so far."""
        self._log_file.flush()
        return self.log.read_text()

    def stop(self) -> None:
        """SIGTERM, as systemd or Ctrl-C would, then wait."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
