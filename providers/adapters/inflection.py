"""Inflection AI: own inference API, Bearer key. Low confidence that it is still served."""

from __future__ import annotations

from dataclasses import replace

import requests

from providers import http
from providers.base import AuthStyle, ProviderAdapter, ProviderSpec, ProviderStatus
from providers.chat import ChatRequest, ChatResult, UpstreamError
from providers.http import OutboundRequest
from providers.verdict import KeyStatus, Verdict

CONTEXT_TYPES = {"system": "Instruction", "user": "Human", "assistant": "AI"}


class InflectionAdapter(ProviderAdapter):
    spec = ProviderSpec(
        id="inflection",
        name="Inflection AI",
        base_url="https://layercake.pubwestus3.inf7ks8.com",
        auth_style=AuthStyle.BEARER,
        docs_url="https://developers.inflection.ai/docs",
        key_pattern=None,  # none known
        key_hint="Paste the API key from the Inflection developer portal.",
        env_var="INFLECTION_API_KEY",
        status=ProviderStatus.LEGACY,
        status_note="Low confidence: the API docs are live and no shutdown was announced, but the "
        "models are being dropped elsewhere, so Inflection may be deprecated.",
        # No validation endpoint is documented: only a 1-token inference call proves a key.
        validation_billed=True,
        example_models=("inflection_3_pi", "inflection_3_productivity"),
    )

    def validation_request(self) -> OutboundRequest | None:
        # Billed: only sent when BYOK_ALLOW_BILLED_VALIDATION is on (see providers.validation).
        return self.build_request(
            "POST",
            "/external/api/inference",
            json={"config": "inflection_3_pi", "context": [{"type": "Human", "text": "ping"}]},
        )

    def read_answer(self, response: requests.Response) -> Verdict:
        verdict = super().read_answer(response)
        if response.status_code in (401, 403):
            # Validation is a chat call too, so this holds for chat: a 403 is a bad key, not a missing scope.
            return replace(
                verdict,
                key_status=KeyStatus.INVALID,
                reason=f"Inflection rejected the key ({response.status_code}).",
            )
        return verdict

    # ---- chat: POST /external/api/inference (the model is the "config") ------------------------
    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        # The documented body has no token limit or temperature, so those are not sent.
        context = [{"type": CONTEXT_TYPES.get(m.role, "Human"), "text": m.content} for m in request.messages]
        return self.build_request("POST", "/external/api/inference", json={"config": request.model, "context": context})

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        data = http.json_or_empty(response)
        text = data.get("text") if isinstance(data, dict) else None
        if not isinstance(text, str):
            raise UpstreamError(f"{self.spec.name} returned an answer without text.")
        return ChatResult(text=text, usage=None, finish_reason=None, model=request.model)
