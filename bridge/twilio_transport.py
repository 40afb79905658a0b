"""Twilio HTTP client that can send api.twilio.com traffic to another origin (tests, proxies)."""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit, urlunsplit

from requests.adapters import HTTPAdapter  # type: ignore[import-untyped, unused-ignore]
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response

DEFAULT_API_ORIGIN = "https://api.twilio.com"
# api.twilio.com plus the edge/region forms the SDK derives from TWILIO_EDGE / TWILIO_REGION.
_API_HOST = re.compile(r"^api(\.[a-z0-9-]+){0,2}\.twilio\.com$")


def normalize_origin(base_url: str) -> str:
    """Validate an http(s) origin and strip any trailing slash; raise ValueError otherwise."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Twilio API base URL must be an http(s) origin, got {base_url!r}")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"Twilio API base URL must be scheme://host[:port] only, got {base_url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def _quiet_logger() -> logging.Logger:
    """The twilio client logs each request's parameters at INFO: numbers and bodies. Ours
    keeps them out of the logs; warnings still show."""
    logger = logging.getLogger("bridge.twilio_http")
    logger.setLevel(logging.WARNING)
    return logger


class ApiOriginHttpClient(TwilioHttpClient):  # type: ignore[misc, unused-ignore]
    """TwilioHttpClient that rewrites https://api.twilio.com/... to base_url, path kept."""

    def __init__(
        self,
        base_url: str = DEFAULT_API_ORIGIN,
        *,
        pool_connections: bool = True,
        request_hooks: dict[str, object] | None = None,
        timeout: float | None = None,
        logger: logging.Logger | None = None,
        proxy: dict[str, str] | None = None,
        max_retries: int | None = None,
    ) -> None:
        """Build the parent client; mount retries for plain http origins too."""
        super().__init__(
            pool_connections=pool_connections,
            request_hooks=request_hooks,
            timeout=timeout,
            logger=logger or _quiet_logger(),
            proxy=proxy,
            max_retries=max_retries,
        )
        self.base_url = normalize_origin(base_url)
        self._rewrite = self.base_url != DEFAULT_API_ORIGIN
        self._target = urlsplit(self.base_url)
        if self._rewrite and self.session is not None and max_retries is not None:
            self.session.mount("http://", HTTPAdapter(max_retries=max_retries))

    def rewrite_url(self, url: str) -> str:
        """Point an api[.edge.region].twilio.com URL at base_url; others are returned unchanged."""
        if not self._rewrite:
            return url
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not _API_HOST.match(host) or parts.port not in (None, 443):
            return url
        return urlunsplit(
            (self._target.scheme, self._target.netloc, parts.path, parts.query, parts.fragment)
        )

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send the request to the rewritten URL via TwilioHttpClient.request."""
        response: Response = super().request(
            method,
            self.rewrite_url(url),
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )
        return response
