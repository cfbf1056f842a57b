"""The OpenAI chat-completions wire format, shared by every provider that speaks it (OpenAI, Groq,
Mistral, DeepSeek, OpenRouter, … and Azure, Databricks) and by this service's own ``/v1`` gateway."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import requests

from common.masking import mask_secrets
from providers import http
from providers.base import ProviderAdapter
from providers.chat import ChatChunk, ChatRequest, ChatResult, SSEJSONDecoder, StreamDecoder, UpstreamError, Usage
from providers.http import OutboundRequest
from providers.verdict import stream_failure


def request_body(request: ChatRequest, *, model: str | None = None, stream: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model if model is not None else request.model,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
    }
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.temperature is not None:
        body["temperature"] = request.temperature
    if stream:
        body["stream"] = True
        # Ask for a final usage chunk (OpenAI and most compatible servers honour it; others ignore it).
        body["stream_options"] = {"include_usage": True}
    return body


def parse_usage(data: Any) -> Usage | None:
    if not isinstance(data, dict):
        return None
    return Usage.of(data.get("prompt_tokens"), data.get("completion_tokens"), data.get("total_tokens"))


def parse_response(data: Any, *, provider_name: str, model: str) -> ChatResult:
    try:
        choice = data["choices"][0]
        content = choice["message"].get("content") or ""
    except (KeyError, IndexError, TypeError, AttributeError):
        raise UpstreamError(f"{provider_name} returned an answer without choices[0].message.") from None
    if isinstance(content, list):  # some servers return content parts
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ChatResult(
        text=str(content),
        usage=parse_usage(data.get("usage")),
        finish_reason=choice.get("finish_reason"),
        model=str(data.get("model") or model),
    )


class ChatCompletionStream(SSEJSONDecoder):
    """``chat.completion.chunk`` events. An error event (then often a cut connection) means the answer
    is incomplete, never a completion."""

    def __init__(self, provider_name: str = "The provider") -> None:
        super().__init__()
        self.provider_name = provider_name

    def on_event(self, event: dict[str, Any]) -> Iterable[ChatChunk]:
        if event.get("error"):
            error = event["error"]
            detail = error.get("message") if isinstance(error, dict) else error
            raise UpstreamError.from_verdict(stream_failure(self.provider_name, mask_secrets(str(detail or ""))[:200]))
        choices = event.get("choices") or []
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        return [
            ChatChunk(
                text=str((choice.get("delta") or {}).get("content") or ""),
                finish_reason=choice.get("finish_reason"),
                usage=parse_usage(event.get("usage")),
            )
        ]


class OpenAIWireChat(ProviderAdapter):
    """``chat``/``stream_chat`` for adapters whose ``chat_http_request`` speaks the OpenAI format."""

    streams = True

    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        raise NotImplementedError

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        return parse_response(http.json_or_empty(response), provider_name=self.spec.name, model=request.model)

    def stream_decoder(self) -> StreamDecoder:
        return ChatCompletionStream(self.spec.name)
