"""The chat call every adapter implements, and the upstream errors it raises.

An adapter turns a ``ChatRequest`` into its provider's request, and the answer into a ``ChatResult``
(text, token usage or None where the provider gives none, finish reason). Streaming adapters yield
``ChatChunk``s; the HTTP status is checked before the first chunk, so failover can still happen.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from providers import http


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    max_tokens: int | None = None
    temperature: float | None = None

    @property
    def system_text(self) -> str | None:
        parts = [m.content for m in self.messages if m.role == "system"]
        return "\n\n".join(parts) if parts else None

    @property
    def conversation(self) -> list[ChatMessage]:
        return [m for m in self.messages if m.role != "system"]


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int | None
    completion_tokens: int | None
    total_tokens: int | None

    @classmethod
    def of(cls, prompt: Any, completion: Any, total: Any = None) -> Usage | None:
        p = int(prompt) if isinstance(prompt, int | float) else None
        c = int(completion) if isinstance(completion, int | float) else None
        t = int(total) if isinstance(total, int | float) else (p + c if p is not None and c is not None else None)
        if p is None and c is None and t is None:
            return None
        return cls(p, c, t)

    def as_dict(self) -> dict[str, int | None]:
        return {
            "promptTokens": self.prompt_tokens,
            "completionTokens": self.completion_tokens,
            "totalTokens": self.total_tokens,
        }


@dataclass(frozen=True)
class ChatResult:
    text: str
    usage: Usage | None
    finish_reason: str | None
    model: str


@dataclass
class ChatChunk:
    """A piece of streamed text; the last chunk may carry usage and the finish reason."""

    text: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


# ---- upstream errors ----------------------------------------------------------------------------


# Seconds to suggest when a provider rate-limits without saying for how long.
DEFAULT_RETRY_AFTER = 10


class UpstreamError(Exception):
    """The provider refused or failed a chat call. Messages never contain a credential."""

    http_status = 502
    code = "upstream_error"
    # Whether another key might succeed where this one failed (401/402/403/429).
    failover = False

    def __init__(self, message: str, *, upstream_status: int | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.message = message
        self.upstream_status = upstream_status
        self.retry_after = retry_after


class UpstreamAuthError(UpstreamError):
    """Bad, revoked or unauthorised key (401/403)."""

    code = "upstream_auth_failed"
    failover = True


class UpstreamNoCredit(UpstreamError):
    code = "upstream_no_credit"
    failover = True


class UpstreamRateLimited(UpstreamError):
    http_status = 429
    code = "upstream_rate_limited"
    failover = True


class UpstreamBadRequest(UpstreamError):
    """Unknown model, bad parameters: the provider's own message, as a 400."""

    http_status = 400
    code = "upstream_bad_request"


class UpstreamTimeout(UpstreamError):
    http_status = 504
    code = "upstream_timeout"


def error_message(response: requests.Response) -> str:
    from providers.validation import body_text

    return body_text(response) or f"HTTP {response.status_code}"


def raise_for_chat_status(response: requests.Response, *, provider_name: str) -> None:
    """Map a non-2xx chat answer to the upstream error hierarchy."""
    code = response.status_code
    if 200 <= code < 300:
        return
    detail = error_message(response)
    if code in (401, 403):
        raise UpstreamAuthError(f"{provider_name} refused the key ({code}: {detail}).", upstream_status=code)
    if code == 402 or (code == 429 and "insufficient_quota" in response.text):
        raise UpstreamNoCredit(
            f"{provider_name} reports no credit for this key ({code}: {detail}).", upstream_status=code
        )
    if code == 429:
        raise UpstreamRateLimited(
            f"{provider_name} is rate-limiting this key ({detail}).",
            upstream_status=code,
            retry_after=http.retry_after_seconds(response) or DEFAULT_RETRY_AFTER,
        )
    if code in (400, 404, 410, 413, 422):
        raise UpstreamBadRequest(f"{provider_name}: {detail}", upstream_status=code)
    raise UpstreamError(f"{provider_name} failed ({code}: {detail}).", upstream_status=code)


def send_chat(
    request: http.OutboundRequest,
    *,
    provider_name: str,
    stream: bool = False,
    raise_for_status: Callable[[requests.Response], None] | None = None,
) -> requests.Response:
    """Send a chat request with the inference timeout; network trouble becomes an upstream error, and
    an error status is read by ``raise_for_status`` (default: ``raise_for_chat_status``)."""
    from django.conf import settings

    try:
        response = http.send(request, timeout=settings.BYOK_INFERENCE_TIMEOUT, stream=stream, retries=0)
    except http.ProviderTimeout as exc:
        raise UpstreamTimeout(f"{provider_name} did not answer in time: {exc}") from None
    except http.UnsafeDestination as exc:
        raise UpstreamBadRequest(str(exc)) from None
    except http.ProviderHTTPError as exc:
        raise UpstreamError(str(exc)) from None
    if not 200 <= response.status_code < 300:
        with response:
            if raise_for_status is not None:
                raise_for_status(response)
            raise_for_chat_status(response, provider_name=provider_name)
    return response


def iter_sse_data(response: requests.Response) -> Iterator[str]:
    """The ``data:`` payloads of a server-sent-events stream (multi-line events joined)."""
    buffer: list[str] = []
    for raw in response.iter_lines(decode_unicode=True):
        line = raw if isinstance(raw, str) else raw.decode()
        if not line:
            if buffer:
                yield "\n".join(buffer)
                buffer = []
            continue
        if line.startswith("data:"):
            buffer.append(line[5:].lstrip())
    if buffer:
        yield "\n".join(buffer)


def iter_sse_json(response: requests.Response) -> Iterator[dict[str, Any]]:
    for data in iter_sse_data(response):
        if data.strip() == "[DONE]":
            return
        try:
            value = json.loads(data)
        except ValueError:
            continue
        if isinstance(value, dict):
            yield value


def single_chunk_stream(result: ChatResult) -> Iterator[ChatChunk]:
    """For providers that do not stream: the whole answer as one chunk."""
    yield ChatChunk(text=result.text, finish_reason=result.finish_reason, usage=result.usage)


__all__ = [
    "ChatChunk",
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "UpstreamAuthError",
    "UpstreamBadRequest",
    "UpstreamError",
    "UpstreamNoCredit",
    "UpstreamRateLimited",
    "UpstreamTimeout",
    "Usage",
]
