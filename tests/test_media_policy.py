"""The safe download policy: credentials only to our media, redirects without them, limits."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bridge.media import Fetched, MediaFetcher, Refused, redirect_refusal

PATH = re.compile(r"/media/ME[0-9a-f]{4}")


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("Authorization")))
        route = self.server.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        route(self)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[tuple[str, str | None]] = []
        self.routes: dict[str, Any] = {}

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server() -> Iterator[_Server]:
    server = _Server()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _fetcher(server: _Server, **limits: Any) -> MediaFetcher:
    return MediaFetcher(
        origins=frozenset({server.origin}),
        path=PATH,
        headers={"Authorization": "Basic c2VjcmV0"},
        **limits,
    )


def _file(content: bytes, content_type: str = "image/png") -> Any:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    return answer


def _redirect(location: str) -> Any:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.end_headers()

    return answer


def test_our_media_is_fetched_with_credentials(server: _Server) -> None:
    server.routes["/media/ME0001"] = _file(b"picture", "image/jpeg; charset=binary")
    got = _fetcher(server).fetch(f"{server.origin}/media/ME0001")
    assert got == Fetched(b"picture", "image/jpeg")
    assert server.seen == [("/media/ME0001", "Basic c2VjcmV0")]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/media/ME0001",  # another origin
        "{origin}/other/ME0001",  # not the media path
        "{origin}/media/ME0001/../../Accounts.json",
        "http://user:pw@127.0.0.1:{port}/media/ME0001",
        "https://127.0.0.1:{port}/media/ME0001",  # another scheme is another origin
    ],
)
def test_anything_else_is_refused_as_suspicious_and_never_requested(
    server: _Server, url: str
) -> None:
    url = url.format(origin=server.origin, port=server.server_address[1])
    got = _fetcher(server).fetch(url)
    assert isinstance(got, Refused) and got.suspicious
    assert server.seen == []


def test_a_redirect_is_followed_without_credentials(server: _Server) -> None:
    server.routes["/media/ME0002"] = _redirect("/cdn/abc?Signature=x")
    server.routes["/cdn/abc"] = _file(b"from the cdn")
    got = _fetcher(server).fetch(f"{server.origin}/media/ME0002")
    assert got == Fetched(b"from the cdn", "image/png")
    assert server.seen == [("/media/ME0002", "Basic c2VjcmV0"), ("/cdn/abc?Signature=x", None)]


def test_redirect_loops_end(server: _Server) -> None:
    server.routes["/media/ME0003"] = _redirect("/media/ME0003")
    got = _fetcher(server).fetch(f"{server.origin}/media/ME0003")
    assert got == Refused("too many redirects")


def test_a_file_over_the_limit_is_cut_off(server: _Server) -> None:
    server.routes["/media/ME0004"] = _file(b"x" * 2000)
    got = _fetcher(server, max_bytes=1000).fetch(f"{server.origin}/media/ME0004")
    assert isinstance(got, Refused) and "larger than" in got.reason and not got.retry


def test_a_file_that_lies_about_its_length_is_cut_off_while_reading(server: _Server) -> None:
    def chunked(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.end_headers()  # no Content-Length: read until closed
        handler.close_connection = True
        for _ in range(50):
            handler.wfile.write(b"y" * 100)

    server.routes["/media/ME0005"] = chunked
    got = _fetcher(server, max_bytes=1000).fetch(f"{server.origin}/media/ME0005")
    assert isinstance(got, Refused) and "larger than" in got.reason


def test_a_slow_server_is_cut_off_at_the_time_limit(server: _Server) -> None:
    def slow(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/png")
        handler.send_header("Content-Length", "100")
        handler.end_headers()
        for _ in range(100):
            handler.wfile.write(b"z")
            handler.wfile.flush()
            time.sleep(0.05)

    server.routes["/media/ME0006"] = slow
    got = _fetcher(server, max_seconds=0.5).fetch(f"{server.origin}/media/ME0006")
    assert isinstance(got, Refused) and "longer than" in got.reason


def test_server_errors_may_be_retried_and_missing_files_not(server: _Server) -> None:
    got = _fetcher(server).fetch(f"{server.origin}/media/ME0007")
    assert got == Refused("the server answered HTTP 404")

    def busy(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(503)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    server.routes["/media/ME0008"] = busy
    got = _fetcher(server).fetch(f"{server.origin}/media/ME0008")
    assert got == Refused("the server answered HTTP 503", retry=True)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://cdn.example.com/file", "not https"),
        ("https://127.0.0.1/file", "private or loopback"),
        ("https://10.1.2.3/file", "private or loopback"),
        ("https://169.254.169.254/latest/meta-data", "private or loopback"),
        ("https://[::1]/file", "private or loopback"),
        ("https://localhost/file", "private or loopback"),
        ("https://user:pw@93.184.216.34/file", "credentials"),
        ("ftp://93.184.216.34/file", "not https"),
    ],
)
def test_redirects_from_a_public_api_go_to_public_https_only(url: str, reason: str) -> None:
    refused = redirect_refusal(url, local=False)
    assert refused is not None and reason in refused.reason and refused.suspicious


def test_a_public_https_redirect_is_allowed() -> None:
    assert redirect_refusal("https://93.184.216.34/media/x", local=False) is None


def test_a_loopback_api_may_redirect_to_loopback_over_http() -> None:
    assert redirect_refusal("http://127.0.0.1:8080/cdn/x", local=True) is None
    assert redirect_refusal("ftp://127.0.0.1/x", local=True) is not None
