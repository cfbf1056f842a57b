"""Ollama: a local server (no auth) or ollama.com cloud (Bearer key)."""

from __future__ import annotations

import json
from typing import Any

import requests

from providers import http
from providers.base import LOOSE_KEY_PATTERN, AuthStyle, ConfigField, FieldKind, ProviderAdapter, ProviderSpec
from providers.chat import ChatChunk, ChatRequest, ChatResult, StreamDecoder, UpstreamError, Usage
from providers.http import OutboundRequest
from providers.verdict import stream_failure

DEFAULT_OLLAMA_URL = "http://localhost:11434"


class OllamaAdapter(ProviderAdapter):
    spec = ProviderSpec(
        id="ollama",
        name="Ollama (local)",
        base_url=DEFAULT_OLLAMA_URL,
        # The local API has no auth; ollama.com cloud takes the optional api_key as a Bearer token.
        auth_style=AuthStyle.NONE,
        docs_url="https://docs.ollama.com/api",
        key_pattern=None,  # none known
        key_hint="A local Ollama server needs no key; for ollama.com cloud, paste an ollama.com API key.",
        env_var="OLLAMA_API_KEY",
        config_fields=(
            ConfigField(
                name="base_url",
                label="Server URL",
                kind=FieldKind.URL,
                hint=f"The URL of your Ollama server (default {DEFAULT_OLLAMA_URL}), "
                "or https://ollama.com for Ollama cloud.",
            ),
            ConfigField(
                name="api_key",
                label="API key (Ollama cloud only)",
                kind=FieldKind.SECRET,
                required=False,
                pattern=LOOSE_KEY_PATTERN,
                hint="Only for ollama.com cloud; leave empty for a local server.",
            ),
        ),
        secret_field="api_key",
        env_config=(("base_url", "OLLAMA_HOST"), ("api_key", "OLLAMA_API_KEY")),
        # A local Ollama server speaks plain http; the SSRF guard still applies to its address. Ollama
        # cloud is base_url https://ollama.com with an api_key.
        extra={"base_url_field": "base_url", "allow_http": True},
        example_models=("llama3.2", "qwen2.5", "gemma3"),
    )

    def auth_headers(self) -> dict[str, str]:
        secret = self.secret()
        return {"Authorization": f"Bearer {secret}"} if secret else {}

    def validation_request(self) -> OutboundRequest | None:
        # Reachability for a local server; with an ollama.com key, an authenticated listing.
        return self.build_request("GET", "/api/tags" if self.secret() else "/api/version")

    # ---- chat: POST /api/chat ----------------------------------------------------------------
    streams = True

    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            # Ollama streams unless told otherwise.
            "stream": stream,
        }
        options: dict[str, Any] = {}
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if options:
            body["options"] = options
        return self.build_request("POST", "/api/chat", json=body)

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        data = http.json_or_empty(response)
        message = data.get("message") if isinstance(data, dict) else None
        if not isinstance(message, dict):
            raise UpstreamError(f"{self.spec.name} returned an answer without message.")
        return ChatResult(
            text=str(message.get("content") or ""),
            usage=Usage.of(data.get("prompt_eval_count"), data.get("eval_count")),
            finish_reason=data.get("done_reason"),
            model=str(data.get("model") or request.model),
        )

    def stream_decoder(self) -> StreamDecoder:
        return _NDJSONStream(self.spec.name)


class _NDJSONStream(StreamDecoder):
    """Newline-delimited JSON: one object per line, the last with ``done: true`` and the counts."""

    def __init__(self, provider_name: str) -> None:
        self.provider_name = provider_name

    def feed_line(self, line: str) -> list[ChatChunk]:
        try:
            event = json.loads(line) if line.strip() else None
        except ValueError:
            return []
        if not isinstance(event, dict):
            return []
        if event.get("error"):
            raise UpstreamError.from_verdict(stream_failure(self.provider_name, event["error"]))
        done = bool(event.get("done"))
        self.done = done
        chunk = ChatChunk(
            text=str((event.get("message") or {}).get("content") or ""),
            finish_reason=(event.get("done_reason") or "stop") if done else None,
            usage=Usage.of(event.get("prompt_eval_count"), event.get("eval_count")) if done else None,
        )
        return [chunk] if chunk.text or chunk.finish_reason or chunk.usage else []
