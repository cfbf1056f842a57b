"""Anthropic: own Messages API, ``x-api-key`` plus ``anthropic-version``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import requests

from providers import http
from providers.base import WRONG_KEY_KIND, AuthStyle, CredentialFormatError, KeySignature, ProviderAdapter, ProviderSpec
from providers.chat import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    SSEJSONDecoder,
    StreamDecoder,
    UpstreamError,
    Usage,
)
from providers.http import OutboundRequest
from providers.verdict import Verdict, out_of_credit, stream_failure

ANTHROPIC_VERSION = "2023-06-01"
# The Messages API requires max_tokens; this is used when the caller sets none.
DEFAULT_MAX_TOKENS = 1024


class AnthropicAdapter(ProviderAdapter):
    spec = ProviderSpec(
        id="anthropic",
        name="Anthropic",
        base_url="https://api.anthropic.com",
        auth_style=AuthStyle.X_API_KEY,
        docs_url="https://docs.claude.com/en/api/overview",
        # Today sk-ant-api03- + 93 chars + AA; accept a future apiNN- and any length from 80.
        key_pattern=r"^sk-ant-api\d{2}-[A-Za-z0-9_-]{80,}$",
        key_hint="Anthropic keys start with sk-ant-api03-; create one at https://console.anthropic.com/settings/keys.",
        env_var="ANTHROPIC_API_KEY",
        key_signatures=(KeySignature("an Anthropic key (sk-ant-…)", re.compile(r"sk-ant-")),),
        mask_prefixes=("sk-ant-",),
        example_models=("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"),
    )

    @classmethod
    def check_key_kind(cls, key: str, *, field: str | None = None) -> None:
        if key.startswith("sk-ant-admin"):
            raise CredentialFormatError(
                "This is an Anthropic Admin API key (sk-ant-admin01-…). Admin keys manage the "
                "organization and cannot call the Messages API. Create an API key (sk-ant-api03-…) at "
                "https://console.anthropic.com/settings/keys.",
                code=WRONG_KEY_KIND,
                field=field,
            )
        if key.startswith("sk-ant-oat"):
            raise CredentialFormatError(
                "This is a Claude Code OAuth token (sk-ant-oat01-…), not an API key. Create an API key "
                "(sk-ant-api03-…) at https://console.anthropic.com/settings/keys.",
                code=WRONG_KEY_KIND,
                field=field,
            )
        super().check_key_kind(key, field=field)

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self.secret(), "anthropic-version": ANTHROPIC_VERSION}

    def validation_request(self) -> OutboundRequest | None:
        return self.build_request("GET", "/v1/models")

    # ---- chat: POST /v1/messages -----------------------------------------------------------
    streams = True

    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS,
            "messages": [{"role": m.role, "content": m.content} for m in request.conversation],
        }
        system = request.system_text
        if system is not None:
            body["system"] = system
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if stream:
            body["stream"] = True
        return self.build_request("POST", "/v1/messages", json=body)

    def read_answer(self, response: requests.Response) -> Verdict:
        # An empty balance is a 400 invalid_request_error; another key may still have credit.
        if response.status_code == 400 and "credit balance is too low" in response.text:
            return out_of_credit(
                f"The key is valid but the {self.spec.name} account has no credit.",
                message=f"{self.spec.name}: {http.error_message(response)}",
                http_status=400,
            )
        return super().read_answer(response)

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        data = http.json_or_empty(response)
        content = data.get("content") if isinstance(data, dict) else None
        if not isinstance(content, list):
            raise UpstreamError(f"{self.spec.name} returned an answer without content.")
        usage = data.get("usage") or {}
        return ChatResult(
            text="".join(
                str(block.get("text", ""))
                for block in content
                if isinstance(block, dict) and block.get("type") == "text"
            ),
            usage=Usage.of(usage.get("input_tokens"), usage.get("output_tokens")) if isinstance(usage, dict) else None,
            finish_reason=data.get("stop_reason"),
            model=str(data.get("model") or request.model),
        )

    def stream_decoder(self) -> StreamDecoder:
        return _MessagesStream(self.spec.name)


class _MessagesStream(SSEJSONDecoder):
    """The Messages API's events: input tokens from ``message_start``, text from ``text_delta``s, the
    stop reason and output tokens from ``message_delta``; errors after the 200 arrive as an event."""

    def __init__(self, provider_name: str) -> None:
        super().__init__()
        self.provider_name = provider_name
        self.input_tokens: Any = None

    def on_event(self, event: dict[str, Any]) -> Iterable[ChatChunk]:
        kind = event.get("type")
        if kind == "message_start":
            message = event.get("message") or {}
            self.input_tokens = (message.get("usage") or {}).get("input_tokens")
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            if delta.get("type") == "text_delta" and delta.get("text"):
                yield ChatChunk(text=str(delta["text"]))
        elif kind == "message_delta":
            output_tokens = (event.get("usage") or {}).get("output_tokens")
            yield ChatChunk(
                finish_reason=(event.get("delta") or {}).get("stop_reason"),
                usage=Usage.of(self.input_tokens, output_tokens),
            )
        elif kind == "error":  # e.g. overloaded_error
            error = event.get("error")
            detail = error.get("message") if isinstance(error, dict) else error
            raise UpstreamError.from_verdict(stream_failure(self.provider_name, detail))
