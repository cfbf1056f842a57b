"""Calling a provider with the resolved keys: failover, key status updates and usage accounting.

The calls are coroutines for the async inference views: a provider call is awaited on the event loop
(httpx), so an open call holds no thread. No database transaction is open while a provider is called;
each write below owns a short one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import connection

from byok_keys import services as key_services
from byok_keys.crypto import DecryptionError
from byok_keys.models import ProviderKey
from byok_keys.services import TokenGrant
from common import metrics
from common.errors import ServiceError
from gateway import admission, telemetry
from gateway.resolution import KeyCandidate
from gateway.usage import usage_record_call
from groups.models import User
from providers.base import ProviderAdapter
from providers.chat import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    UpstreamError,
    UpstreamStreamBroken,
    Usage,
)
from providers.registry import get_adapter_class
from providers.validation import KeyStatus, ValidationResult

logger = logging.getLogger("byok.gateway")
T = TypeVar("T")
P = ParamSpec("P")


def in_thread(function: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """``function`` (database or cache work) run from the event loop in the request's thread, which
    then hands its database connection back to the pool: an open call (a stream lasting minutes)
    holds no connection, so a few pooled connections serve thousands of open calls."""

    def run_and_release(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return function(*args, **kwargs)
        finally:
            release_connection()

    return sync_to_async(run_and_release)


def release_connection() -> None:
    """Return this thread's connection to the pool (production on PostgreSQL), unless a transaction is
    open (a test's, for instance). Without a pool the connection stays until the request ends, as
    Django does: closing it would mean a new connection per step."""
    if connection.settings_dict.get("OPTIONS", {}).get("pool") and not connection.in_atomic_block:
        connection.close()


@dataclass(frozen=True)
class CallOrigin:
    """Where a call came from, recorded with its usage (a compromised key's blast radius reads it)."""

    token_prefix: str = ""  # the API token's public prefix; empty for the page's session
    ip: str | None = None
    endpoint: str = "chat"  # for metrics: inference, chat.completions
    # The cached API token the call was let in with, checked on admission (None for the page's session).
    grant: TokenGrant | None = None


@dataclass(frozen=True)
class ChatCall:
    """One chat call as the caller asked for it: which provider, which group's keys (if named), what."""

    provider: str
    group: str | None
    request: ChatRequest
    origin: CallOrigin = CallOrigin()


@dataclass
class Attempt:
    candidate: KeyCandidate
    status: str  # "ok" or an error code
    latency_ms: int
    upstream_status: int | None = None
    message: str = ""


@dataclass
class ChatOutcome:
    result: ChatResult
    served_by: KeyCandidate
    attempts: list[Attempt]
    latency_ms: int


@dataclass
class StreamOutcome:
    chunks: AsyncIterator[ChatChunk]
    served_by: KeyCandidate
    attempts: list[Attempt] = field(default_factory=list)


class GatewayError(ServiceError):
    """An upstream failure after every allowed attempt; carries the attempts for the response."""

    def __init__(self, error: UpstreamError | ServiceError, attempts: list[Attempt]) -> None:
        if isinstance(error, UpstreamError):
            headers = {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}
            super().__init__(error.message, code=error.code, status=error.http_status, headers=headers)
        else:
            super().__init__(error.message, code=error.code, status=error.status, headers=error.headers)
        self.attempts = attempts  # rendered into the error body by the gateway's views
        if attempts:  # a failed call still says which key was tried last
            self.headers.update(served_headers(attempts[-1].candidate))


def served_headers(candidate: KeyCandidate) -> dict[str, str]:
    """``X-BYOK-Key-Source`` and ``X-BYOK-Key-Id`` of the key that served (or was tried last)."""
    return {"X-BYOK-Key-Source": str(candidate.source), "X-BYOK-Key-Id": candidate.key_id}


def _record(
    user: User,
    request: ChatRequest,
    candidate: KeyCandidate,
    status: str,
    latency_ms: int,
    usage: Usage | None = None,
    origin: CallOrigin = CallOrigin(),
    first_token_ms: int | None = None,
) -> None:
    telemetry.record_attempt(
        provider=candidate.provider,
        model=request.model,
        key_source=str(candidate.source),
        status=status,
        latency_ms=latency_ms,
        input_tokens=usage.prompt_tokens if usage else None,
        output_tokens=usage.completion_tokens if usage else None,
        first_token_ms=first_token_ms,
    )
    usage_record_call(
        user=user,
        provider=candidate.provider,
        model=request.model,
        source=candidate.source,
        key=candidate.key,
        key_label=candidate.key_id,
        organization=candidate.group,
        usage=usage,
        status=status,
        latency_ms=latency_ms,
        token_prefix=origin.token_prefix,
        ip_address=origin.ip,
    )
    provider = candidate.provider
    known = get_adapter_class(provider).spec.example_models
    metrics.REQUESTS.labels(
        endpoint=origin.endpoint,
        provider=provider,
        model=request.model if request.model in known else "other",
        source=str(candidate.source),
        status=status,
    ).inc()
    metrics.UPSTREAM_LATENCY.labels(provider=provider).observe(latency_ms / 1000)
    if usage is not None and status == "ok":
        for kind, value in (("prompt", usage.prompt_tokens), ("completion", usage.completion_tokens)):
            if value:
                metrics.TOKENS.labels(provider=provider, type=kind).inc(value)


def _update_key_status(candidate: KeyCandidate, error: UpstreamError) -> None:
    """A provider's verdict on a stored key during inference is recorded like a key test. The reason
    is a fixed sentence: upstream text is never stored (it could echo the key)."""
    key: ProviderKey | None = candidate.key
    status = error.verdict.key_status  # the adapter's one reading of the answer
    if key is None or status is None or status is KeyStatus.VALID:
        return
    reason = f"During a chat call the provider refused the key (HTTP {error.upstream_status}, {error.code})."
    key_services.provider_key_record_validation(key=key, result=ValidationResult(status, reason), actor=None)


DECRYPTION_FAILED = ServiceError(
    "A stored key could not be decrypted; an operator must check the master keys.",
    code="decryption_failed",
    status=500,
)


async def _attempts(
    *,
    user: User,
    request: ChatRequest,
    candidates: tuple[KeyCandidate, ...],
    call: Callable[[ProviderAdapter, float], Awaitable[T]],
    origin: CallOrigin = CallOrigin(),
) -> tuple[T, KeyCandidate, ProviderAdapter, list[Attempt]]:
    """Try ``call(adapter, deadline)`` with each candidate in order until one succeeds or failover must
    stop. Every attempt is listed and recorded. Runs on the event loop: the database and cache work
    of an attempt (its key's rate limit, a status change, the usage record) goes to the request's
    thread with ``sync_to_async``; the provider call is awaited, so it holds no thread."""
    attempts: list[Attempt] = []
    failover = settings.BYOK_FAILOVER
    loop = asyncio.get_running_loop()
    for index, candidate in enumerate(candidates):
        last = index == len(candidates) - 1 or not failover
        started = time.monotonic()
        adapter: ProviderAdapter | None = None
        error: ServiceError | UpstreamError
        try:
            if candidate.key_limit_counted:  # counted at admission: nothing to ask Redis
                admission.key_limit_hit(candidate)
            else:
                await in_thread(admission.key_limit_hit)(candidate)
            adapter = candidate.make_adapter()
            with adapter.scrubbed_errors():
                value = await call(adapter, loop.time() + settings.BYOK_UPSTREAM_TOTAL_TIMEOUT)
        except ServiceError as exc:  # this key's own rate limit, or a vanished system key
            error = exc
            attempts.append(Attempt(candidate, exc.code, _ms(started), message=exc.message))
        except DecryptionError:
            # The detail (which master key) is for the operator's logs, not for the caller.
            logger.exception("cannot decrypt %s", candidate.key_id)
            if candidate.key is not None:
                await in_thread(key_services.provider_key_mark_undecryptable)(key=candidate.key)
            error = DECRYPTION_FAILED
            attempts.append(Attempt(candidate, DECRYPTION_FAILED.code, _ms(started), message=DECRYPTION_FAILED.message))
        except UpstreamError as exc:
            if adapter is not None:
                exc.message = adapter.redact(exc.message)
                exc.args = (exc.message,)
            error = exc
            attempts.append(Attempt(candidate, exc.code, _ms(started), exc.upstream_status, exc.message))
            await in_thread(_update_key_status)(candidate, exc)
            if not exc.failover:
                last = True
        else:
            assert adapter is not None
            return value, candidate, adapter, [*attempts, Attempt(candidate, "ok", _ms(started))]
        await in_thread(_record)(user, request, candidate, attempts[-1].status, attempts[-1].latency_ms, origin=origin)
        if last:
            raise GatewayError(error, attempts)
        metrics.FAILOVERS.labels(provider=candidate.provider).inc()
    raise AssertionError("admission never returns an empty candidate list")


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _candidates(*, user: User, call: ChatCall) -> tuple[KeyCandidate, ...]:
    return admission.admit(user=user, grant=call.origin.grant, provider=call.provider, group_slug=call.group)


async def chat(*, user: User, call: ChatCall) -> ChatOutcome:
    """The whole call: the caller's rate limit, key resolution, the provider call with failover, and
    accounting for every attempt."""
    started = time.monotonic()
    candidates = await in_thread(_candidates)(user=user, call=call)
    request = call.request
    result, served, _, attempts = await _attempts(
        user=user,
        request=request,
        candidates=candidates,
        call=lambda adapter, deadline: adapter.achat(request, deadline=deadline),
        origin=call.origin,
    )
    await in_thread(_record)(user, request, served, "ok", attempts[-1].latency_ms, result.usage, origin=call.origin)
    return ChatOutcome(result=result, served_by=served, attempts=attempts, latency_ms=_ms(started))


async def chat_streamed(*, user: User, call: ChatCall) -> StreamOutcome:
    """``chat`` streamed. Failover happens before the first chunk; usage is recorded when the stream
    ends (with the provider's final usage where it reports one). A stream that breaks off is recorded
    as failed and ends with an ``UpstreamError``; a caller who goes away closes the provider's stream
    at once and is recorded as ``client_disconnected``."""
    started = time.monotonic()
    candidates = await in_thread(_candidates)(user=user, call=call)
    request, origin = call.request, call.origin
    chunks, served, adapter, attempts = await _attempts(
        user=user,
        request=request,
        candidates=candidates,
        call=lambda adapter, deadline: adapter.astream_chat(request, deadline=deadline),
        origin=origin,
    )

    async def accounted() -> AsyncIterator[ChatChunk]:
        usage: Usage | None = None
        status = "ok"
        first_token_ms: int | None = None
        metrics.OPEN_STREAMS.inc()
        try:
            with adapter.scrubbed_errors():
                async for chunk in chunks:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    if first_token_ms is None and chunk.text:
                        first_token_ms = _ms(started)
                    yield chunk
        except UpstreamError as exc:
            status = "upstream_stream_broken" if isinstance(exc, UpstreamStreamBroken) else exc.code
            exc.message = adapter.redact(exc.message)
            exc.args = (exc.message,)
            raise
        except (GeneratorExit, asyncio.CancelledError):
            # The caller went away: close the provider's stream now instead of reading it to its end.
            status = "client_disconnected"
            close = getattr(chunks, "aclose", None)  # an async generator: end the provider's stream
            if close is not None:
                await close()
            raise
        except Exception:
            status = "server_error"
            raise
        finally:
            metrics.OPEN_STREAMS.dec()
            # Shielded: a disconnect cancels this task, and what was served must still be recorded.
            await asyncio.shield(
                in_thread(_record)(
                    user, request, served, status, _ms(started), usage, origin=origin, first_token_ms=first_token_ms
                )
            )

    return StreamOutcome(chunks=accounted(), served_by=served, attempts=attempts)
