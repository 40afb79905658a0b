"""Fetching media safely: credentials only to the origin that owns them, within limits.

A media URL comes from outside (a webhook's `MediaUrl0`, a Slack event's file): before our
credentials go with it, it must point at the configured API origin and the path where that
service keeps media. Redirects (Twilio answers with one to its CDN) are followed without
credentials, to https only, and never to private or loopback addresses, unless the
configured origin is itself on loopback (a local emulator).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

# Twilio's cap for an MMS, and so for what a customer can have sent us.
MAX_MEDIA_BYTES = 5 * 1024 * 1024
MAX_SECONDS = 30.0
MAX_REDIRECTS = 3
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_LOCAL_HOSTS = frozenset({"localhost"})


@dataclass(frozen=True)
class Fetched:
    """The bytes of a media file and what the server said they are."""

    content: bytes
    content_type: str


@dataclass(frozen=True)
class Refused:
    """Why a media file was not fetched; `retry`: another attempt later may work."""

    reason: str
    retry: bool = False
    suspicious: bool = False


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased, default ports dropped."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{host}{port}"


def is_loopback_origin(url: str) -> bool:
    """True when the URL's host is a loopback address or `localhost`."""
    host = (urlsplit(url).hostname or "").lower()
    if host in _LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class MediaFetcher:
    """Downloads from `origins` (paths matching `path`) with `headers`; nowhere else."""

    def __init__(
        self,
        *,
        origins: frozenset[str],
        path: re.Pattern[str],
        headers: dict[str, str],
        max_bytes: int = MAX_MEDIA_BYTES,
        max_seconds: float = MAX_SECONDS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._origins = frozenset(origin_of(o) for o in origins)
        self._path = path
        self._headers = headers
        self._max_bytes = max_bytes
        self._max_seconds = max_seconds
        self._transport = transport
        # Tests run the services on loopback over http; production origins are public https.
        self._local = all(is_loopback_origin(o) for o in self._origins)

    def trusted(self, url: str) -> str | None:
        """None when our credentials may go to `url`, else why not."""
        parts = urlsplit(url)
        if parts.username or parts.password or parts.fragment:
            return "the URL carries credentials or a fragment"
        if origin_of(url) not in self._origins:
            return "the URL is not on the service's own origin"
        if not self._path.fullmatch(parts.path):
            return "the URL is not under our account's media path"
        return None

    def fetch(self, url: str) -> Fetched | Refused:
        """GET the media, following redirects without credentials; never raises."""
        distrust = self.trusted(url)
        if distrust is not None:
            return Refused(distrust, suspicious=True)
        deadline = time.monotonic() + self._max_seconds
        headers: dict[str, str] | None = self._headers
        # Imported on the first download: httpx (with rich and click when installed) weighs
        # about 10 MiB that a process never fetching media should not carry.
        import httpx

        with httpx.Client(transport=self._transport, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                try:
                    step = self._get(client, url, headers, deadline)
                except httpx.TimeoutException:
                    return Refused(f"it took longer than {self._max_seconds:.0f} seconds")
                except httpx.HTTPError as exc:
                    return Refused(f"the download failed ({type(exc).__name__})", retry=True)
                if not isinstance(step, str):
                    return step
                url, headers = step, None  # credentials never follow a redirect
                refusal = redirect_refusal(url, local=self._local)
                if refusal is not None:
                    return refusal
        return Refused("too many redirects")

    def _get(
        self, client: httpx.Client, url: str, headers: dict[str, str] | None, deadline: float
    ) -> Fetched | Refused | str:
        """The file, a refusal, or the URL a redirect points to."""
        import httpx

        timeout = httpx.Timeout(max(deadline - time.monotonic(), 0.1))
        with client.stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code in _REDIRECTS:
                location = response.headers.get("location")
                if not location:
                    return Refused("a redirect without a Location")
                return str(urljoin(url, location))
            if response.status_code != 200:
                retry = response.status_code == 429 or response.status_code >= 500
                return Refused(f"the server answered HTTP {response.status_code}", retry=retry)
            declared = response.headers.get("content-length", "")
            if declared.isdecimal() and int(declared) > self._max_bytes:
                return Refused(self._too_large())
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > self._max_bytes:
                    return Refused(self._too_large())
                if time.monotonic() > deadline:
                    return Refused(f"it took longer than {self._max_seconds:.0f} seconds")
                chunks.append(chunk)
            content_type = response.headers.get("content-type", "application/octet-stream")
            return Fetched(b"".join(chunks), content_type.split(";")[0].strip().lower())

    def _too_large(self) -> str:
        return f"it is larger than {self._max_bytes // (1024 * 1024)} MB"


def redirect_refusal(url: str, *, local: bool) -> Refused | None:
    """Why a redirect must not be followed, or None; `local`: the origin is on loopback."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        return Refused("a redirect carrying credentials", suspicious=True)
    if parts.scheme not in (("https", "http") if local else ("https",)):
        return Refused("a redirect to a URL that is not https", suspicious=True)
    if not local and not _public_host(parts.hostname or ""):
        return Refused("a redirect to a private or loopback address", suspicious=True)
    return None


def _public_host(host: str) -> bool:
    """True when every address the host resolves to is a public one."""
    if not host or host.lower() in _LOCAL_HOSTS:
        return False
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            return False
    return bool(infos)
