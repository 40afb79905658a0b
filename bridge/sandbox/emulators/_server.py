"""Shared plumbing for the local HTTP emulators: server thread, call log, fault queues."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

JSON_CONTENT_TYPE = "application/json; charset=utf-8"


@dataclass(frozen=True)
class Call:
    """One request as the emulator received it; `params` merges query string and body."""

    method_or_path: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    http_method: str = "POST"
    kind: str = ""

    @property
    def method(self) -> str:
        """The Slack API method (or Twilio path) this call targeted."""
        return self.method_or_path


@dataclass(frozen=True)
class Request:
    """A parsed inbound HTTP request handed to an emulator."""

    http_method: str
    path: str
    query: dict[str, Any]
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Response:
    """What an emulator answers with."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        """Build a JSON response."""
        extra = {"Content-Type": JSON_CONTENT_TYPE, **(headers or {})}
        return cls(status, json.dumps(payload).encode(), extra)

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain") -> Response:
        """Build a plain-text (non-JSON) response."""
        return cls(status, text.encode(), {"Content-Type": f"{content_type}; charset=utf-8"})


@dataclass(frozen=True)
class Fault:
    """One queued misbehaviour; `remaining` counts requests left; status 0 drops the socket."""

    status: int
    remaining: int = 1
    error: str | None = None
    code: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    effect: bool = False
    succeed: bool = False
    body: str | bytes | dict[str, Any] | None = None


def parse_form(raw: str) -> dict[str, Any]:
    """Decode a urlencoded string; repeated keys become lists, single keys stay strings."""
    parsed = parse_qs(raw, keep_blank_values=True)
    return {k: v[0] if len(v) == 1 else v for k, v in parsed.items()}


def parse_body(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """Decode a JSON or urlencoded request body into a dict (empty when unparseable)."""
    if not body:
        return {}
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    text = body.decode("utf-8", errors="replace")
    if ctype == "application/json":
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    if ctype in ("application/x-www-form-urlencoded", ""):
        return parse_form(text)
    return {}


def fault_body_response(
    status: int, body: str | bytes | dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    """Render a Fault's explicit body: dicts as JSON, str as text/plain, bytes verbatim."""
    if isinstance(body, dict):
        return Response.json(status, body, headers)
    if isinstance(body, str):
        base = Response.text(status, body)
        return Response(status, base.body, {**base.headers, **(headers or {})})
    return Response(status, body, {"Content-Type": "application/octet-stream", **(headers or {})})


def format_retry_after(value: float) -> str:
    """Render a Retry-After value the way servers do (integer seconds when whole)."""
    return str(int(value)) if float(value).is_integer() else str(value)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, emulator: EmulatorServer) -> None:
        self.emulator = emulator
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: clients that hang up mid-answer are expected in fault tests."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        request = Request(self.command, split.path, parse_form(split.query), headers, body)
        response = self.server.emulator.handle(request)
        if response.status == 0:  # simulate a dropped connection: close without answering
            self.close_connection = True
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve


class EmulatorServer:
    """Base class: a ThreadingHTTPServer on 127.0.0.1:0 served from a daemon thread."""

    def __init__(self) -> None:
        """Set up locks, the call log and fault queues; nothing listens until start()."""
        self._lock = threading.RLock()
        self._calls: list[Call] = []
        self._faults: dict[str, deque[Fault]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.down = False

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Self:
        """Bind an ephemeral port and serve in a daemon thread; idempotent."""
        if self._server is None:
            self._server = _Server(self)
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{type(self).__name__}-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port; idempotent."""
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> Self:
        """Start on entering a with-block."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop on leaving a with-block."""
        self.stop()

    @property
    def port(self) -> int:
        """The bound TCP port (raises if not started)."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        """Scheme, host and port, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    # -- recording -------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A copy of every request received, in arrival order."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, kind: str) -> list[Call]:
        """The recorded calls whose kind (Slack method / Twilio operation) matches."""
        with self._lock:
            return [c for c in self._calls if c.kind == kind]

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01
    ) -> None:
        """Poll predicate until true; raise AssertionError after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return
            if time.monotonic() >= deadline:
                raise AssertionError(f"condition not met within {timeout}s: {predicate!r}")
            time.sleep(interval)

    # -- faults ----------------------------------------------------------------------------

    def _queue_fault(self, kind: str, fault: Fault) -> None:
        if fault.remaining < 1:
            raise ValueError("times must be >= 1")
        with self._lock:
            self._faults.setdefault(kind, deque()).append(fault)

    def _take_fault(self, kind: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(kind)
            if not queue:
                return None
            head = queue[0]
            if head.remaining <= 1:
                queue.popleft()
            else:
                queue[0] = replace(head, remaining=head.remaining - 1)
            return head

    def pending_faults(self, kind: str | None = None) -> int:
        """How many fault shots are still queued (for one kind, or all)."""
        with self._lock:
            kinds = [kind] if kind is not None else list(self._faults)
            return sum(f.remaining for k in kinds for f in self._faults.get(k, ()))

    def clear_faults(self) -> None:
        """Drop every queued fault and latency."""
        with self._lock:
            self._faults.clear()

    @staticmethod
    def _apply_fault(
        fault: Fault | None,
        effect: Callable[[], Response],
        failure: Callable[[Fault], Response],
    ) -> Response:
        """Run effect and/or answer with failure, honouring the fault's delay and ordering."""
        if fault is None:
            return effect()
        if fault.succeed:
            if fault.effect:
                answer = effect()
                time.sleep(fault.delay)
                return answer
            time.sleep(fault.delay)
            return effect()
        if fault.effect:
            effect()
        time.sleep(fault.delay)
        return failure(fault)

    def handle(self, request: Request) -> Response:
        """Answer one request (implemented by subclasses)."""
        raise NotImplementedError
