"""The chat call every adapter implements, and the upstream errors it raises.

An adapter turns a ``ChatRequest`` into its provider's request, and the answer into a ``ChatResult``
(text, token usage or None where the provider gives none, the provider's finish reason and the same in
OpenAI's words). Streaming adapters yield ``ChatChunk``s; the HTTP status is checked before the first
chunk, so failover can still happen. An error answer is read into the adapter's verdict
(``providers.verdict``), and raised as the ``Upstream*`` error it names, carrying the verdict.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import requests
from django.conf import settings

from providers import http
from providers.verdict import ChatErrorCode, Verdict


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


# Provider finish reasons in OpenAI's words (stop, length, tool_calls, content_filter). Any other reason
# a finished answer gives reads as "stop".
OPENAI_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "STOP": "stop",
    "COMPLETE": "stop",
    "stop": "stop",
    "max_tokens": "length",
    "MAX_TOKENS": "length",
    "length": "length",
    "tool_use": "tool_calls",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "SAFETY": "content_filter",
    "guardrail_intervened": "content_filter",
    "RECITATION": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "BLOCKLIST": "content_filter",
    "SPII": "content_filter",
    "refusal": "content_filter",
}


def openai_finish_reason(reason: str | None) -> str | None:
    """A provider's finish reason in OpenAI's words; None (not finished, or not said) stays None."""
    if reason is None:
        return None
    return OPENAI_FINISH_REASONS.get(reason, "stop")


@dataclass(frozen=True)
class ChatResult:
    text: str
    usage: Usage | None
    # The provider's own finish reason (``/api/inference`` shows it as it is), or None.
    finish_reason: str | None
    model: str
    # The same in OpenAI's words; a finished answer always has one ("stop" where the provider says none).
    openai_finish_reason: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "openai_finish_reason", openai_finish_reason(self.finish_reason) or "stop")


@dataclass(frozen=True)
class ChatChunk:
    """A piece of streamed text; the last chunk may carry usage and the finish reason."""

    text: str = ""
    # The provider's own finish reason, on the chunk that ends the answer.
    finish_reason: str | None = None
    usage: Usage | None = None
    # The same in OpenAI's words (None where ``finish_reason`` is None).
    openai_finish_reason: str | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "openai_finish_reason", openai_finish_reason(self.finish_reason))


# ---- upstream errors ----------------------------------------------------------------------------


# Seconds to suggest when a provider rate-limits without saying for how long.
DEFAULT_RETRY_AFTER = 10


class UpstreamError(Exception):
    """The provider refused or failed a chat call. Messages never contain a credential.

    ``verdict`` is what the provider's answer meant (the key status it implies, failover, temporary);
    an error not read from an answer (a timeout, an unreadable body) learnt nothing about the key.
    """

    http_status = 502
    code: str = ChatErrorCode.FAILED.value
    # Whether another key might succeed where this one failed (401/402/403/429).
    failover = False

    def __init__(
        self,
        message: str,
        *,
        upstream_status: int | None = None,
        retry_after: int | None = None,
        verdict: Verdict | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.upstream_status = upstream_status
        self.retry_after = retry_after
        self.verdict = verdict or Verdict(
            None,
            message,
            ChatErrorCode(self.code),
            message,
            http_status=upstream_status,
            retry_after=retry_after,
            temporary=self.code in (ChatErrorCode.TIMEOUT, ChatErrorCode.RATE_LIMITED),
        )

    @classmethod
    def from_verdict(cls, verdict: Verdict) -> UpstreamError:
        """The error a chat call raises for an error answer, of the class ``verdict.error`` names."""
        code = verdict.error or ChatErrorCode.FAILED
        error_class = ERROR_CLASSES[code]
        retry_after = (verdict.retry_after or DEFAULT_RETRY_AFTER) if code is ChatErrorCode.RATE_LIMITED else None
        return error_class(
            verdict.message or verdict.reason,
            upstream_status=verdict.upstream_status,
            retry_after=retry_after,
            verdict=verdict,
        )


class UpstreamAuthError(UpstreamError):
    """Bad, revoked or unauthorised key (401/403)."""

    code = ChatErrorCode.AUTH_FAILED.value
    failover = True


class UpstreamNoCredit(UpstreamError):
    code = ChatErrorCode.NO_CREDIT.value
    failover = True


class UpstreamRateLimited(UpstreamError):
    http_status = 429
    code = ChatErrorCode.RATE_LIMITED.value
    failover = True


class UpstreamBadRequest(UpstreamError):
    """Unknown model, bad parameters: the provider's own message, as a 400."""

    http_status = 400
    code = ChatErrorCode.BAD_REQUEST.value


class UpstreamStreamBroken(UpstreamError):
    """The connection broke off in the middle of a streamed answer (recorded as
    ``upstream_stream_broken``)."""


class UpstreamTimeout(UpstreamError):
    http_status = 504
    code = ChatErrorCode.TIMEOUT.value


ERROR_CLASSES: dict[ChatErrorCode, type[UpstreamError]] = {
    ChatErrorCode(error_class.code): error_class
    for error_class in (
        UpstreamError,
        UpstreamAuthError,
        UpstreamNoCredit,
        UpstreamRateLimited,
        UpstreamBadRequest,
        UpstreamTimeout,
    )
}


@contextmanager
def _as_upstream_errors(provider_name: str) -> Iterator[None]:
    """Sending failures (no answer) as the upstream errors the gateway reports."""
    try:
        yield
    except http.ProviderTimeout as exc:
        raise UpstreamTimeout(f"{provider_name} did not answer in time: {exc}") from None
    except http.UnsafeDestination as exc:
        raise UpstreamBadRequest(str(exc)) from None
    except http.ProviderHTTPError as exc:
        raise UpstreamError(str(exc)) from None


def send_chat(
    request: http.OutboundRequest,
    *,
    provider_name: str,
    read_answer: Callable[[requests.Response], Verdict],
    stream: bool = False,
) -> requests.Response:
    """Send a chat request with the inference timeout. Network trouble becomes an upstream error; an
    error answer is read by ``read_answer`` (the adapter's verdict) into the error it names."""
    with _as_upstream_errors(provider_name):
        response = http.send(request, timeout=settings.BYOK_INFERENCE_TIMEOUT, stream=stream, retries=0)
    if not 200 <= response.status_code < 300:
        with response:
            raise UpstreamError.from_verdict(read_answer(response))
    return response


def iter_lines_as_they_arrive(response: requests.Response) -> Iterator[str]:
    """The lines of a streamed answer, each as soon as its bytes arrive.

    ``requests``' ``iter_lines`` reads in fixed blocks, so a line waits until its block is full (or
    the stream ends): with a provider that pauses mid-answer, the caller would see nothing until the
    pause ends. ``read1`` returns whatever one read from the socket gives.
    """
    read1 = getattr(response.raw, "read1", None)
    if read1 is None:  # not a urllib3 response (e.g. a test double): blocks are fine
        for raw in response.iter_lines(decode_unicode=True):
            yield raw if isinstance(raw, str) else raw.decode()
        return
    pending = b""
    while True:
        data = read1(65536, decode_content=True)
        if not data:
            break
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", "replace")


class StreamDecoder:
    """A provider's streamed answer, decoded one line at a time: the same decoder serves the blocking
    reader (``iter_decoded``) and the async one (``aiter_decoded``), and each chunk is handed on as soon
    as the line that carries it has arrived. ``done`` is set when the stream says it is over."""

    done = False

    def feed_line(self, line: str) -> list[ChatChunk]:
        raise NotImplementedError

    def end(self) -> list[ChatChunk]:
        """What is left when the connection ends."""
        return []


class SSEJSONDecoder(StreamDecoder):
    """Server-sent events whose ``data:`` payloads are JSON objects (multi-line events joined; ``[DONE]``
    ends the stream). Subclasses read each event in ``on_event``."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed_line(self, line: str) -> list[ChatChunk]:
        if line:
            if line.startswith("data:"):
                self._data.append(line[5:].lstrip())
            return []
        return self._flush()

    def end(self) -> list[ChatChunk]:
        return self._flush()

    def _flush(self) -> list[ChatChunk]:
        if not self._data or self.done:
            self._data = []
            return []
        data, self._data = "\n".join(self._data), []
        if data.strip() == "[DONE]":
            self.done = True
            return []
        try:
            event = json.loads(data)
        except ValueError:
            return []
        return (
            [chunk for chunk in self.on_event(event) if chunk.text or chunk.finish_reason or chunk.usage]
            if isinstance(event, dict)
            else []
        )

    def on_event(self, event: dict[str, Any]) -> Iterable[ChatChunk]:
        raise NotImplementedError


def iter_decoded(response: requests.Response, decoder: StreamDecoder) -> Iterator[ChatChunk]:
    """Blocking: the chunks of a streamed ``requests`` answer."""
    with response:
        for line in iter_lines_as_they_arrive(response):
            yield from decoder.feed_line(line)
            if decoder.done:
                return
        yield from decoder.end()


async def aiter_lines(pieces: AsyncIterator[bytes]) -> AsyncIterator[str]:
    """Lines of a byte stream, each as soon as its newline arrives."""
    pending = b""
    async for data in pieces:
        pending += data
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if pending:
        yield pending.rstrip(b"\r").decode("utf-8", "replace")


async def aiter_decoded(
    response: httpx.Response, decoder: StreamDecoder, *, timeouts: http.UpstreamTimeouts, deadline: float
) -> AsyncIterator[ChatChunk]:
    """Async: the chunks of a streamed ``httpx`` answer. Network trouble mid-stream becomes an
    ``UpstreamError``; leaving early (a caller who went away) closes the upstream connection."""
    body = http.aiter_body(response, timeouts=timeouts, deadline=deadline)
    try:
        async for line in aiter_lines(body):
            for chunk in decoder.feed_line(line):
                yield chunk
            if decoder.done:
                return
        for chunk in decoder.end():
            yield chunk
    except http.ProviderTimeout as exc:
        raise UpstreamTimeout(f"The stream stopped: {exc}") from None
    except http.ProviderHTTPError as exc:
        raise UpstreamStreamBroken(f"The stream broke off: {exc}") from None
    finally:
        await body.aclose()


async def asend_chat(
    request: http.OutboundRequest,
    *,
    provider_name: str,
    read_answer: Callable[[requests.Response], Verdict],
    timeouts: http.UpstreamTimeouts,
    deadline: float,
) -> httpx.Response:
    """``send_chat`` for the async client: the response once its headers arrived (a success, body
    unread), or the upstream error its answer names."""
    with _as_upstream_errors(provider_name):
        response = await http.asend(request, timeouts=timeouts, deadline=deadline)
    if not 200 <= response.status_code < 300:
        try:
            answer = await http.aread_body(response, timeouts=timeouts, deadline=deadline)
        except http.ProviderHTTPError as exc:
            raise UpstreamError(f"{provider_name} answered HTTP {response.status_code}: {exc}") from None
        raise UpstreamError.from_verdict(read_answer(answer))
    return response


async def aread_answer(
    response: httpx.Response, *, timeouts: http.UpstreamTimeouts, deadline: float
) -> requests.Response:
    """A successful answer's whole body, read with the timeouts."""
    try:
        return await http.aread_body(response, timeouts=timeouts, deadline=deadline)
    except http.ProviderTimeout as exc:
        raise UpstreamTimeout(str(exc)) from None
    except http.ProviderHTTPError as exc:
        raise UpstreamError(str(exc)) from None


def single_chunk_stream(result: ChatResult) -> Iterator[ChatChunk]:
    """For providers that do not stream: the whole answer as one chunk."""
    yield ChatChunk(text=result.text, finish_reason=result.finish_reason, usage=result.usage)


async def aiter_once(result: ChatResult) -> AsyncIterator[ChatChunk]:
    """``single_chunk_stream`` for the async path."""
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
