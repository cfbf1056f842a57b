"""All outbound HTTP to providers goes through here.

- timeouts on every request (``BYOK_HTTP_TIMEOUT`` / ``BYOK_INFERENCE_TIMEOUT``);
- redirects are never followed: a 3xx could carry the key's request to another host;
- retries only on temporary failures (connection errors, timeouts, 5xx, 529), with a short backoff;
- credentials only in headers, never in URLs, and never logged (requests are logged by method, host
  and path; the logging filter masks anything key-shaped that slips through);
- user-supplied URLs go through the SSRF guard before the request and again on the connected socket.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from common.masking import mask_secrets
from providers import ssrf

logger = logging.getLogger("byok.providers.http")

TEMPORARY_STATUSES = frozenset({500, 502, 503, 504, 529})


class ProviderHTTPError(Exception):
    """Base of the outbound error hierarchy. Messages never contain a credential."""


class ProviderUnavailable(ProviderHTTPError):
    """Network error, timeout or a temporary upstream failure: nothing is known about the key."""


class ProviderTimeout(ProviderUnavailable):
    pass


class UnsafeDestination(ProviderHTTPError):
    """The SSRF guard refused the destination."""


@dataclass
class OutboundRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: bytes | None = None
    # The URL (or part of it) came from a user: apply the SSRF guard.
    user_supplied_url: bool = False
    allow_http: bool = False

    def __repr__(self) -> str:  # never show headers: they carry the credential
        return f"<OutboundRequest {self.method} {_loggable(self.url)}>"


def _loggable(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


# ---- SSRF-guarded connections -----------------------------------------------------------------


class _PeerCheck:
    """Checks the address a new connection actually reached (after DNS), before anything is sent."""

    host: str

    def _new_conn(self) -> Any:
        sock = super()._new_conn()  # type: ignore[misc]
        try:
            ssrf.check_peer(sock, self.host)
        except ssrf.UnsafeURLError:
            sock.close()
            raise
        return sock


class _GuardedHTTPConnection(_PeerCheck, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_PeerCheck, HTTPSConnection):
    pass


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


_local = threading.local()


def _session(guarded: bool) -> requests.Session:
    """One session per thread (connection reuse without sharing a Session across threads).

    Sessions hold no credentials: headers are passed per request.
    """
    name = "guarded" if guarded else "plain"
    session = getattr(_local, name, None)
    if session is None:
        session = requests.Session()
        session.trust_env = False  # no proxies or .netrc credentials from the environment
        if guarded:
            adapter = GuardedAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
        setattr(_local, name, session)
    return session


def send(
    request: OutboundRequest,
    *,
    timeout: float | None = None,
    retries: int | None = None,
    stream: bool = False,
) -> requests.Response:
    """Send ``request``; return the response whatever its status (callers interpret it).

    Raises ``ProviderUnavailable`` / ``ProviderTimeout`` when no answer came after the retries,
    ``UnsafeDestination`` when the SSRF guard refuses, ``ProviderHTTPError`` for a redirect.
    """
    if request.user_supplied_url:
        try:
            ssrf.check_url(request.url, allow_http=request.allow_http)
        except ssrf.UnsafeURLError as exc:
            raise UnsafeDestination(str(exc)) from None
    read_timeout = timeout if timeout is not None else settings.BYOK_HTTP_TIMEOUT
    attempts = 1 + (settings.BYOK_HTTP_RETRIES if retries is None else retries)
    session = _session(request.user_supplied_url)
    last_error: ProviderHTTPError | None = None
    for attempt in range(attempts):
        if attempt:
            time.sleep(min(0.25 * 2 ** (attempt - 1), 2.0))
        started = time.monotonic()
        try:
            response = session.request(
                request.method,
                request.url,
                headers=request.headers,
                json=request.json,
                data=request.data,
                timeout=(settings.BYOK_HTTP_CONNECT_TIMEOUT, read_timeout),
                allow_redirects=False,
                stream=stream,
            )
        except ssrf.UnsafeURLError as exc:
            raise UnsafeDestination(str(exc)) from None
        except requests.Timeout:
            last_error = ProviderTimeout(f"{_host(request.url)} did not answer within {read_timeout:g} s.")
            logger.warning("provider timeout %s %s (attempt %d)", request.method, _loggable(request.url), attempt + 1)
            continue
        except requests.ConnectionError as exc:
            if isinstance(getattr(exc, "__context__", None), ssrf.UnsafeURLError) or "Refused to talk" in str(exc):
                raise UnsafeDestination(_unsafe_message(exc)) from None
            last_error = ProviderUnavailable(f"Could not connect to {_host(request.url)}.")
            logger.warning("provider connection error %s %s", request.method, _loggable(request.url))
            continue
        except requests.RequestException:
            last_error = ProviderUnavailable(f"The request to {_host(request.url)} failed.")
            continue
        except (UnicodeError, ValueError):
            # A header value that is not latin-1 (a pasted typographic character): never retried.
            raise ProviderHTTPError(
                "The stored credential contains characters that cannot be sent in an HTTP header."
            ) from None
        elapsed_ms = int((time.monotonic() - started) * 1000)
        logger.info(
            "provider %s %s -> %d in %d ms",
            request.method,
            _loggable(request.url),
            response.status_code,
            elapsed_ms,
        )
        if 300 <= response.status_code < 400:
            response.close()
            error_class = UnsafeDestination if request.user_supplied_url else ProviderHTTPError
            raise error_class(
                f"{_host(request.url)} answered with a redirect ({response.status_code}); redirects are not "
                "followed because they could carry the key to another host. Check the base URL."
            )
        if response.status_code in TEMPORARY_STATUSES and attempt + 1 < attempts:
            response.close()
            continue
        return response
    assert last_error is not None
    raise last_error


def _host(url: str) -> str:
    return urlsplit(url).hostname or "the provider"


def _unsafe_message(exc: BaseException) -> str:
    text = str(exc)
    start = text.find("Refused to talk")
    return text[start:].split("'")[0].rstrip(')"') if start >= 0 else "The destination is not allowed."


def retry_after_seconds(response: requests.Response) -> int | None:
    """``Retry-After`` in seconds: delay-seconds or an HTTP-date (RFC 9110 allows both)."""
    value = (response.headers.get("retry-after") or "").strip()
    if not value:
        return None
    try:
        return max(0, int(float(value)))
    except (ValueError, OverflowError):  # OverflowError: "inf"
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0, int((when - datetime.now(UTC)).total_seconds()))


def json_or_empty(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {}


def body_text(response: requests.Response) -> str:
    """A short, credential-free excerpt of an error body for reasons and messages (providers never echo
    keys whole, but they may echo a prefix, so it is masked anyway)."""
    data = json_or_empty(response)
    message: Any = None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            message = error.get("message") or error.get("code") or error.get("type")
        elif isinstance(error, str):
            message = error
        message = message or data.get("message") or data.get("detail")
        if isinstance(message, list):
            message = "; ".join(str(item) for item in message)
    text = str(message) if message else response.text[:200]
    return mask_secrets(" ".join(text.split()))[:200]


def error_message(response: requests.Response) -> str:
    """``body_text``, or the status where the body says nothing."""
    return body_text(response) or f"HTTP {response.status_code}"


def answers_path(response: requests.Response, suffix: str) -> bool:
    """Whether ``response`` answers a request whose URL path ends in ``suffix``: for a reading that only
    holds for one endpoint (a 403 from a token-check endpoint is a bad token; from chat it is not)."""
    return urlsplit(response.url or "").path.endswith(suffix)
