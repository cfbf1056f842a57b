"""All outbound HTTP to providers goes through here.

- timeouts on every request (``BYOK_HTTP_TIMEOUT`` / ``BYOK_INFERENCE_TIMEOUT``);
- redirects are never followed: a 3xx could carry the key's request to another host;
- retries only on temporary failures (connection errors, timeouts, 5xx, 529), with a short backoff;
- credentials only in headers, never in URLs, and never logged (requests are logged by method, host
  and path; the logging filter masks anything key-shaped that slips through);
- user-supplied URLs go through the SSRF guard before the request and again on the connected socket.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import threading
import time
import weakref
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
import requests
import requests.structures
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
    _check_destination(request)
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
            raise _redirect_refused(request, response.status_code)
        if response.status_code in TEMPORARY_STATUSES and attempt + 1 < attempts:
            response.close()
            continue
        return response
    assert last_error is not None
    raise last_error


def _check_destination(request: OutboundRequest) -> None:
    """The SSRF guard on a user-supplied URL, before anything is sent (the socket is checked again)."""
    if request.user_supplied_url:
        try:
            ssrf.check_url(request.url, allow_http=request.allow_http)
        except ssrf.UnsafeURLError as exc:
            raise UnsafeDestination(str(exc)) from None


def _redirect_refused(request: OutboundRequest, status: int) -> ProviderHTTPError:
    error_class = UnsafeDestination if request.user_supplied_url else ProviderHTTPError
    return error_class(
        f"{_host(request.url)} answered with a redirect ({status}); redirects are not "
        "followed because they could carry the key to another host. Check the base URL."
    )


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


# ---- Async: inference calls under ASGI ---------------------------------------------------------
#
# Inference runs in async views, so an open call holds no thread: one ``httpx.AsyncClient`` per event
# loop (connections belong to the loop that opened them), with the same rules as ``send`` above: no
# redirects, no proxies from the environment, credentials only in headers, the SSRF guard on
# user-supplied URLs before the request and on the connected socket. No retries: the gateway's
# failover decides what happens after a failure.


@dataclass(frozen=True)
class UpstreamTimeouts:
    """``BYOK_UPSTREAM_*_TIMEOUT``: connecting, the answer's first byte (its headers), the gap between
    two chunks of the body, and the whole call."""

    connect: float
    first_byte: float
    idle: float
    total: float

    @classmethod
    def from_settings(cls) -> UpstreamTimeouts:
        return cls(
            connect=settings.BYOK_UPSTREAM_CONNECT_TIMEOUT,
            first_byte=settings.BYOK_UPSTREAM_FIRST_BYTE_TIMEOUT,
            idle=settings.BYOK_UPSTREAM_IDLE_TIMEOUT,
            total=settings.BYOK_UPSTREAM_TOTAL_TIMEOUT,
        )


class _GuardedBackend(httpcore.AnyIOBackend):
    """Checks the address a new connection reached (after DNS) before anything is sent on it."""

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        stream = await super().connect_tcp(host, port, *args, **kwargs)
        try:
            ssrf.check_peer(stream.get_extra_info("socket"), host)
        except ssrf.UnsafeURLError:
            await stream.aclose()
            raise
        return stream


def _make_client(*, guarded: bool) -> httpx.AsyncClient:
    limits = httpx.Limits(
        max_connections=settings.BYOK_UPSTREAM_MAX_CONNECTIONS or None,
        max_keepalive_connections=100,
        keepalive_expiry=30,
    )
    transport = async_transport_factory(guarded=guarded, limits=limits)
    # Reads are bounded per call by ``asend``/``aiter_body`` (first byte, idle, total), not per socket read.
    timeout = httpx.Timeout(None, connect=settings.BYOK_UPSTREAM_CONNECT_TIMEOUT)
    return httpx.AsyncClient(transport=transport, trust_env=False, follow_redirects=False, timeout=timeout)


def _default_transport(*, guarded: bool, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    if guarded:
        # httpx has no public hook for the network backend; its pool is replaced by the same pool
        # with the guarded backend (httpx is pinned, and tests/providers/test_ssrf.py covers this).
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(),
        )
    return transport


# Tests replace this to put the ``responses`` mock under the async client (tests/conftest.py).
async_transport_factory = _default_transport

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[bool, httpx.AsyncClient]] = (
    weakref.WeakKeyDictionary()
)


def _client(guarded: bool) -> httpx.AsyncClient:
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    client = per_loop.get(guarded)
    if client is None or client.is_closed:
        client = per_loop[guarded] = _make_client(guarded=guarded)
    return client


def reset_async_clients() -> None:
    """Forget the clients (tests swap the transport; a new one is made on next use)."""
    _clients.clear()


async def asend(request: OutboundRequest, *, timeouts: UpstreamTimeouts, deadline: float) -> httpx.Response:
    """Send ``request`` and return the response as soon as its headers arrived, body unread (the
    caller reads it with ``aread_body`` or ``aiter_body`` and closes it). ``deadline`` is the loop time
    by which the whole call must be over.

    Raises ``ProviderTimeout`` (no answer in time), ``ProviderUnavailable`` (network),
    ``UnsafeDestination`` (the SSRF guard), ``ProviderHTTPError`` (a redirect, an unsendable header).
    """
    _check_destination(request)
    loop = asyncio.get_running_loop()
    started = loop.time()
    client = _client(request.user_supplied_url)
    try:
        outbound = client.build_request(
            request.method,
            request.url,
            headers=request.headers,
            json=request.json,
            content=request.data,
            timeout=httpx.Timeout(None, connect=timeouts.connect, pool=timeouts.connect),
        )
    except (UnicodeError, ValueError):
        raise ProviderHTTPError(
            "The stored credential contains characters that cannot be sent in an HTTP header."
        ) from None
    try:
        async with asyncio.timeout_at(min(deadline, started + timeouts.first_byte)):
            response = await client.send(outbound, stream=True)
    except TimeoutError:
        raise ProviderTimeout(f"{_host(request.url)} did not answer within {loop.time() - started:.0f} s.") from None
    except httpx.TimeoutException:
        raise ProviderTimeout(f"Could not connect to {_host(request.url)} within {timeouts.connect:g} s.") from None
    except ssrf.UnsafeURLError as exc:
        raise UnsafeDestination(str(exc)) from None
    except httpx.HTTPError:
        logger.warning("provider connection error %s %s", request.method, _loggable(request.url))
        raise ProviderUnavailable(f"Could not connect to {_host(request.url)}.") from None
    logger.info(
        "provider %s %s -> %d in %d ms",
        request.method,
        _loggable(request.url),
        response.status_code,
        int((loop.time() - started) * 1000),
    )
    if 300 <= response.status_code < 400:
        await response.aclose()
        raise _redirect_refused(request, response.status_code)
    return response


async def aiter_body(
    response: httpx.Response, *, timeouts: UpstreamTimeouts, deadline: float
) -> AsyncGenerator[bytes, None]:
    """The body's bytes as each piece arrives (no block buffering), with the idle and total timeouts.
    Closes the response at the end, on error, and when the consumer stops early (a caller who left)."""
    loop = asyncio.get_running_loop()
    pieces = response.aiter_bytes().__aiter__()
    try:
        while True:
            try:
                async with asyncio.timeout_at(min(deadline, loop.time() + timeouts.idle)):
                    data = await pieces.__anext__()
            except StopAsyncIteration:
                return
            except TimeoutError:
                what = "finish" if loop.time() >= deadline else f"send more within {timeouts.idle:g} s"
                raise ProviderTimeout(f"{_host(str(response.url))} did not {what}.") from None
            except httpx.HTTPError:
                raise ProviderUnavailable(f"The connection to {_host(str(response.url))} broke off.") from None
            if data:
                yield data
    finally:
        await response.aclose()


async def aread_body(response: httpx.Response, *, timeouts: UpstreamTimeouts, deadline: float) -> requests.Response:
    """The whole body, as a ``requests.Response`` so the adapters' readers (verdicts, answers) serve
    both clients unchanged."""
    body = b"".join([piece async for piece in aiter_body(response, timeouts=timeouts, deadline=deadline)])
    return as_requests_response(response, body)


def as_requests_response(response: httpx.Response, body: bytes) -> requests.Response:
    converted = requests.Response()
    converted.status_code = response.status_code
    converted.headers = requests.structures.CaseInsensitiveDict(response.headers.items())
    converted._content = body
    converted.url = str(response.url)
    converted.encoding = response.charset_encoding or "utf-8"
    converted.reason = response.reason_phrase
    return converted
