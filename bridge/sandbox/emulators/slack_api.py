"""Slack Web API emulator: real HTTP on 127.0.0.1 for `WebClient(base_url=emu.url)`."""

from __future__ import annotations

import contextlib
import copy
import json
import time
from typing import Any

from bridge.sandbox.emulators._rate_limit import Arrival, ChannelBuckets
from bridge.sandbox.emulators._server import (
    Call,
    EmulatorServer,
    Fault,
    Request,
    Response,
    fault_body_response,
    format_retry_after,
    parse_body,
)
from bridge.sandbox.emulators._slack_files import FILES_PREFIX, UPLOAD_PREFIX, SlackFilesMixin
from bridge.sandbox.emulators._slack_methods import Params, SlackWebApi, make_user
from bridge.sandbox.emulators._slack_store import Message, SlackError

JSON_FIELDS = ("blocks", "attachments", "metadata", "view")
# The scopes a fully installed smsbridge bot token has (Slack sends them in X-OAuth-Scopes).
DEFAULT_SCOPES = [
    "chat:write",
    "channels:history",
    "groups:history",
    "reactions:write",
    "users:read",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "commands",
    "files:read",
    "files:write",
]


def decode_json_fields(params: Params) -> None:
    """Turn JSON-encoded form fields (blocks, attachments, metadata, view) into objects."""
    for name in JSON_FIELDS:
        value = params.get(name)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            with contextlib.suppress(json.JSONDecodeError):
                params[name] = json.loads(value)


class SlackEmulator(SlackFilesMixin, SlackWebApi, EmulatorServer):
    """Stateful Slack Web API stand-in with call recording and fault injection."""

    def __init__(
        self,
        token: str = "xoxb-test",  # noqa: S107
        bot_user_id: str = "UBOT",
        bot_id: str = "BBOT",
        team_id: str = "T0001",
        *,
        app_id: str = "A0001",
        team_domain: str = "example",
    ) -> None:
        """Configure identity; `emu.token` may be changed at runtime (revocation)."""
        self.scopes: list[str] = list(DEFAULT_SCOPES)
        EmulatorServer.__init__(self)
        SlackWebApi.__init__(self, bot_user_id, bot_id, team_id, app_id, team_domain)
        self.token = token
        self._init_files()
        self._routes.update(self._file_routes())
        self._limits: dict[str, ChannelBuckets] = {}
        self._ratelimited_at: list[float] = []
        self._arrivals: list[Arrival] = []

    @property
    def url(self) -> str:
        """Base URL for WebClient(base_url=...), e.g. http://127.0.0.1:PORT/api/."""
        return f"{self.origin}/api/"

    # -- fault injection ---------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str = "internal_error",
        retry_after: float | None = None,
        times: int = 1,
        delay: float = 0.0,
        effect: bool = False,
        body: str | bytes | dict[str, Any] | None = None,
    ) -> None:
        """Queue `times` failures for method (after the real effect when effect=True)."""
        fault = Fault(status, times, error, None, retry_after, delay, effect, False, body)
        self._queue_fault(method, fault)

    def latency(
        self, method: str, seconds: float, times: int = 1, effect_first: bool = True
    ) -> None:
        """Queue `times` slow-but-successful answers for method."""
        self._queue_fault(
            method, Fault(200, times, delay=seconds, effect=effect_first, succeed=True)
        )

    def rate_limit(
        self,
        method: str = "chat.postMessage",
        *,
        rate: float,
        burst: int,
        fractional_retry_after: bool = False,
    ) -> None:
        """Enforce `rate` calls a second per channel (`burst` at once) on `method`, as Slack
        does: over it, HTTP 429 `ratelimited` with Retry-After (whole seconds, as Slack sends
        them, unless `fractional_retry_after` for time-compressed benchmarks)."""
        buckets = ChannelBuckets(rate=rate, burst=burst, fractional=fractional_retry_after)
        with self._lock:
            self._limits[method] = buckets

    def no_rate_limit(self, method: str = "chat.postMessage") -> None:
        """Stop enforcing a rate limit on `method`."""
        with self._lock:
            self._limits.pop(method, None)

    @property
    def ratelimited(self) -> int:
        """How many calls the enforced rate limits answered with 429 (faults not counted)."""
        with self._lock:
            return len(self._ratelimited_at)

    def ratelimited_at(self) -> list[float]:
        """When (monotonic clock) each call the enforced rate limits refused arrived."""
        with self._lock:
            return list(self._ratelimited_at)

    def arrivals(self) -> list[Arrival]:
        """Every chat.postMessage that stored a message, with when it arrived, in order."""
        with self._lock:
            return list(self._arrivals)

    def _arrived(self, channel: str, message: Message) -> None:
        thread_ts = message.get("thread_ts")
        arrival = Arrival(
            channel,
            str(message["ts"]),
            str(thread_ts) if thread_ts else None,
            str(message.get("text") or ""),
            time.monotonic(),
            time.time(),
        )
        self._arrivals.append(arrival)  # the caller holds the lock

    def _over_limit(self, method: str, params: Params) -> Response | None:
        with self._lock:
            buckets = self._limits.get(method)
        if buckets is None:
            return None
        wait = buckets.admit(str(params.get("channel") or ""))
        if wait is None:
            return None
        with self._lock:
            self._ratelimited_at.append(time.monotonic())
        headers = {"Retry-After": format_retry_after(wait)}
        return Response.json(429, {"ok": False, "error": "ratelimited"}, headers)

    def _failure(self, fault: Fault) -> Response:
        if fault.status == 0:
            return Response(0)
        headers = {}
        if fault.retry_after is not None or fault.status == 429:
            headers["Retry-After"] = format_retry_after(fault.retry_after or 1)
        if fault.body is not None:
            return fault_body_response(fault.status, fault.body, headers)
        if fault.status == 429:
            return Response.json(429, {"ok": False, "error": "ratelimited"}, headers)
        if fault.status >= 500:
            return Response.text(fault.status, f"{fault.status} upstream error", "text/html")
        return Response.json(fault.status, {"ok": False, "error": fault.error}, headers)

    # -- HTTP entry point --------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Record the call, then answer: down → 503, queued fault, or the real method."""
        if request.path.startswith((UPLOAD_PREFIX, FILES_PREFIX)):
            kind = "files.upload" if request.path.startswith(UPLOAD_PREFIX) else "files.download"
            call = Call(request.path, {}, request.headers, time.time(), request.http_method, kind)
            self._record(call)
            with self._lock:
                return self._raw_answer(
                    request.http_method, request.path, request.headers, request.body
                )
        if not request.path.startswith("/api/"):
            return Response.text(404, "not found")
        method = request.path.removeprefix("/api/")
        params: Params = {**request.query, **parse_body(request.headers, request.body)}
        decode_json_fields(params)
        call = Call(method, params, request.headers, time.time(), request.http_method, method)
        self._record(call)
        if self.down:
            return Response.text(503, "Service Unavailable", "text/html")
        refused = self._over_limit(method, params)
        if refused is not None:
            return refused
        fault = self._take_fault(method)
        return self._apply_fault(
            fault, lambda: self._answer(method, params, request.headers), self._failure
        )

    def _answer(self, method: str, params: Params, headers: dict[str, str]) -> Response:
        route = self._routes.get(method)
        if route is None:
            return Response.json(200, {"ok": False, "error": "unknown_method"})
        auth = headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        token = token or str(params.get("token") or "")
        if not token:
            return Response.json(200, {"ok": False, "error": "not_authed"})
        if token != self.token:
            return Response.json(200, {"ok": False, "error": "invalid_auth"})
        try:
            with self._lock:
                payload = route(copy.deepcopy(params))
        except SlackError as exc:
            payload = {"ok": False, "error": exc.code}
        # Slack tells every authenticated call which scopes its token carries.
        return Response.json(200, payload, {"X-OAuth-Scopes": ",".join(self.scopes)})

    # -- test-side accessors -----------------------------------------------------------------

    def add_message(
        self,
        channel: str,
        text: str,
        *,
        user: str = "UHUMAN",
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
        blocks: list[dict[str, Any]] | None = None,
        reply_broadcast: bool = False,
    ) -> str:
        """Seed a message as if a person posted it (no HTTP, not recorded); returns its ts."""
        fields: Message = {"user": user, "team": self.team_id, "text": text}
        if metadata is not None:
            fields["metadata"] = copy.deepcopy(metadata)
        if blocks is not None:
            fields["blocks"] = copy.deepcopy(blocks)
        with self._lock:
            return str(self._store_message(channel, fields, thread_ts, reply_broadcast)["ts"])

    def delete_message(self, channel: str, ts: str) -> None:
        """Remove a message as a person deleting it in Slack would (no tombstone)."""
        with self._lock:
            self._store.remove(channel, ts)

    def add_reaction(self, channel: str, ts: str, name: str, *, user: str = "UHUMAN") -> None:
        """Seed a person's reaction on a stored message (no HTTP; same rules as reactions.add)."""
        with self._lock:
            message = self._store.get(channel, ts)
            if message is None:
                raise SlackError("message_not_found")
            self._react(message, name, user)

    def reactions(self, channel: str, ts: str) -> list[str]:
        """Names of the reactions on a stored message, oldest first (KeyError: no such message)."""
        with self._lock:
            message = self._store.get(channel, ts)
            if message is None:
                raise KeyError(f"no message {ts} in {channel}")
            return [str(r["name"]) for r in message.get("reactions", [])]

    def add_user(self, user_id: str, name: str, **overrides: Any) -> dict[str, Any]:
        """Register a users.info user (see make_user for the keys you may override)."""
        user = make_user(user_id, name, team_id=self.team_id, **overrides)
        self.users[user_id] = user
        return user

    def top_level(self, channel: str) -> list[Message]:
        """Non-reply messages in channel, oldest first (metadata included)."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._store.top_level(channel)]

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Replies under parent ts, oldest first, parent excluded."""
        with self._lock:
            return [copy.deepcopy(m) for m in self._store.replies(channel, ts)]

    def message(self, channel: str, ts: str) -> Message | None:
        """One stored message (copy), or None."""
        with self._lock:
            found = self._store.get(channel, ts)
            return copy.deepcopy(found) if found is not None else None

    def all_posts(self) -> list[Params]:
        """Params of every chat.postMessage that stored a message (incl. effect=True faults)."""
        with self._lock:
            return copy.deepcopy(self._posts)
