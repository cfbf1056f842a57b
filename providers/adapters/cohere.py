"""Cohere: own v2 chat API, Bearer key."""

from __future__ import annotations

from typing import Any

import requests

from providers import http
from providers.base import AuthStyle, ProviderAdapter, ProviderSpec
from providers.chat import ChatRequest, ChatResult, UpstreamError, Usage
from providers.http import OutboundRequest
from providers.verdict import KeyStatus, Verdict, failed, refused


class CohereAdapter(ProviderAdapter):
    spec = ProviderSpec(
        id="cohere",
        name="Cohere",
        base_url="https://api.cohere.com",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.cohere.com/reference/about",
        # Observed: 40 letters and digits, no prefix (trial and production keys look alike).
        key_pattern=r"^[A-Za-z0-9]{30,}$",
        key_hint="Cohere keys have no prefix: about 40 letters and digits.",
        env_var="COHERE_API_KEY",
        example_models=("command-a-03-2025", "command-r7b-12-2024"),
    )

    def validation_request(self) -> OutboundRequest | None:
        return self.build_request("POST", "/v1/check-api-key")

    def read_answer(self, response: requests.Response) -> Verdict:
        if response.status_code == 200:
            data = http.json_or_empty(response)
            if not isinstance(data, dict) or "valid" not in data:
                # Not Cohere's answer (a proxy or captive portal page): nothing is known about the key.
                return failed("Cohere answered 200 without a readable result; try again later.", http_status=200)
            if data.get("valid") is not True:
                return refused(KeyStatus.INVALID, "Cohere reports the key as not valid.", http_status=200)
        return super().read_answer(response)

    # ---- chat: POST /v2/chat ---------------------------------------------------------------
    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        body: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        return self.build_request("POST", "/v2/chat", json=body)

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        data = http.json_or_empty(response)
        message = data.get("message") if isinstance(data, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            raise UpstreamError(f"{self.spec.name} returned an answer without message.content.")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        # tokens: what the model processed; billed_units: what is charged (older answers only have it).
        counts = usage.get("tokens") or usage.get("billed_units") or {}
        return ChatResult(
            text="".join(
                str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
            ),
            usage=Usage.of(counts.get("input_tokens"), counts.get("output_tokens"))
            if isinstance(counts, dict)
            else None,
            finish_reason=data.get("finish_reason"),
            model=request.model,
        )
