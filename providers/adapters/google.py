"""Google AI (Gemini API): own ``generateContent`` API, ``x-goog-api-key`` header."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import requests

from providers import http
from providers.base import AuthStyle, KeySignature, ProviderAdapter, ProviderSpec
from providers.chat import (
    ChatChunk,
    ChatRequest,
    ChatResult,
    SSEJSONDecoder,
    StreamDecoder,
    UpstreamBadRequest,
    UpstreamError,
    Usage,
)
from providers.http import OutboundRequest
from providers.verdict import KeyStatus, Verdict, refused, stream_failure

# Google answers a bad or expired key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID), whose
# message is one of these; it is an invalid key, not a bad request.
INVALID_KEY_MESSAGES = ("API key not valid", "API key expired")


class GoogleAdapter(ProviderAdapter):
    spec = ProviderSpec(
        id="google",
        name="Google AI (Gemini API)",
        base_url="https://generativelanguage.googleapis.com/v1beta",
        auth_style=AuthStyle.GOOGLE,
        docs_url="https://ai.google.dev/gemini-api/docs",
        # Legacy standard keys (AIza…) are being retired during 2026; AI Studio now issues auth keys
        # (AQ.…, some reports show IQ.…). Accept both, with a minimum length only.
        key_pattern=r"^(?:AIza[0-9A-Za-z_-]{35,}|[AI]Q\.[A-Za-z0-9_.-]{20,})$",
        key_hint="Gemini API keys start with AQ. (new auth keys) or AIza (older standard keys); create "
        "one at https://aistudio.google.com/apikey.",
        env_var="GEMINI_API_KEY",
        key_signatures=(
            KeySignature("a Gemini API key (AIza…)", re.compile(r"AIza[0-9A-Za-z_-]{35}$"), "Google AI"),
            KeySignature("a Gemini API key (AQ.…)", re.compile(r"AQ\.[A-Za-z0-9_.-]{20,}$"), "Google AI"),
        ),
        mask_prefixes=("AIza", "AQ.", "IQ."),
        example_models=("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro"),
    )

    def validation_request(self) -> OutboundRequest | None:
        # The key goes in the x-goog-api-key header, never in ?key= (URLs end up in logs).
        return self.build_request("GET", "/models")

    def read_answer(self, response: requests.Response) -> Verdict:
        text = response.text
        if response.status_code == 400 and (
            "API_KEY_INVALID" in text or any(message in text for message in INVALID_KEY_MESSAGES)
        ):
            # Reported to chat as 401 (an invalid key, not a bad request).
            return refused(
                KeyStatus.INVALID,
                "Google rejected the key as invalid, expired or revoked (API_KEY_INVALID).",
                message=f"{self.spec.name} rejected the key as invalid or expired ({http.error_message(response)}).",
                http_status=400,
                reported_status=401,
            )
        verdict = super().read_answer(response)
        if response.status_code == 401 and "ACCESS_TOKEN_TYPE_UNSUPPORTED" in text:
            return replace(
                verdict,
                reason="Google does not accept this kind of credential for the Gemini API "
                "(ACCESS_TOKEN_TYPE_UNSUPPORTED).",
            )
        if response.status_code == 403:
            return replace(
                verdict,
                reason="The key exists but has no Gemini API access (API not enabled, key restricted, or blocked).",
            )
        return verdict

    # ---- chat: POST /models/{model}:generateContent ------------------------------------------
    streams = True

    def model_path(self, model: str) -> str:
        # "models/gemini-2.5-flash" is the resource name; the bare id is what users usually give.
        name = model.removeprefix("models/")
        if name in ("", ".", ".."):
            raise UpstreamBadRequest(f"'{model}' is not a Gemini model name (e.g. gemini-2.5-flash).")
        return "/models/" + quote(name, safe="")

    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        body: dict[str, Any] = {
            "contents": [
                {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
                for m in request.conversation
            ]
        }
        system = request.system_text
        if system is not None:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        config: dict[str, Any] = {}
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if config:
            body["generationConfig"] = config
        # The key stays in the x-goog-api-key header; alt=sse is the only query parameter.
        method = ":streamGenerateContent?alt=sse" if stream else ":generateContent"
        return self.build_request("POST", self.model_path(request.model) + method, json=body)

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        data = http.json_or_empty(response)
        if not isinstance(data, dict) or not ("candidates" in data or "promptFeedback" in data):
            raise UpstreamError(f"{self.spec.name} returned an answer without candidates.")
        chunk = self._chunk(data)
        return ChatResult(
            text=chunk.text,
            usage=chunk.usage,
            finish_reason=chunk.finish_reason,
            model=str(data.get("modelVersion") or request.model),
        )

    def stream_decoder(self) -> StreamDecoder:
        return _GenerateContentStream(self.spec.name, self._chunk)

    @staticmethod
    def _chunk(data: dict[str, Any]) -> ChatChunk:
        """Text, finish reason and usage of one GenerateContentResponse."""
        candidates = data.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
        candidate = candidate if isinstance(candidate, dict) else {}
        parts = (candidate.get("content") or {}).get("parts") or []
        # Thought summaries (thought: true) are not part of the answer.
        text = "".join(
            str(part.get("text", "")) for part in parts if isinstance(part, dict) and not part.get("thought")
        )
        finish = candidate.get("finishReason")
        if finish is None and not candidates:
            # A blocked prompt gets no candidate at all, only promptFeedback.blockReason.
            finish = (data.get("promptFeedback") or {}).get("blockReason")
        meta = data.get("usageMetadata")
        usage = (
            Usage.of(meta.get("promptTokenCount"), meta.get("candidatesTokenCount"), meta.get("totalTokenCount"))
            if isinstance(meta, dict)
            else None
        )
        return ChatChunk(text=text, finish_reason=finish, usage=usage)


class _GenerateContentStream(SSEJSONDecoder):
    """``streamGenerateContent?alt=sse``: each event a GenerateContentResponse carrying the running
    ``usageMetadata`` (the last has the final counts)."""

    def __init__(self, provider_name: str, read_chunk: Callable[[dict[str, Any]], ChatChunk]) -> None:
        super().__init__()
        self.provider_name = provider_name
        self.read_chunk = read_chunk

    def on_event(self, event: dict[str, Any]) -> Iterable[ChatChunk]:
        if "error" in event:
            error = event["error"]
            detail = error.get("message") if isinstance(error, dict) else error
            raise UpstreamError.from_verdict(stream_failure(self.provider_name, detail))
        return [self.read_chunk(event)]
