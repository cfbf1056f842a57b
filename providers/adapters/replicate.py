"""Replicate: own predictions API (``Prefer: wait``), Bearer token."""

from __future__ import annotations

import re
from typing import Any

import requests

from providers import http
from providers.base import AuthStyle, KeySignature, ProviderAdapter, ProviderSpec
from providers.chat import (
    ChatMessage,
    ChatRequest,
    ChatResult,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamTimeout,
    Usage,
)
from providers.http import OutboundRequest

# "owner/name" of an official or community model. Each part starts with a letter or digit, so neither
# can be "." or "..", which the HTTP client would resolve into another API path.
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")
ROLE_LABELS = {"user": "User", "assistant": "Assistant"}


def flatten_conversation(messages: list[ChatMessage]) -> str:
    """Replicate's language models take one prompt string (the model applies its own chat template).

    A single user message is sent as it is; a longer conversation becomes labelled turns ending with an
    open "Assistant:" turn.
    """
    if len(messages) == 1 and messages[0].role == "user":
        return messages[0].content
    turns = [f"{ROLE_LABELS.get(m.role, m.role.title())}: {m.content}" for m in messages]
    return "\n\n".join([*turns, "Assistant:"])


class ReplicateAdapter(ProviderAdapter):
    spec = ProviderSpec(
        id="replicate",
        name="Replicate",
        base_url="https://api.replicate.com/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://replicate.com/docs/reference/http",
        key_pattern=r"^r8_[0-9A-Za-z_-]{30,}$",
        key_hint="Replicate API tokens start with r8_ (usually followed by 37 characters).",
        env_var="REPLICATE_API_TOKEN",
        key_signatures=(KeySignature("a Replicate token (r8_…)", re.compile(r"r8_")),),
        mask_prefixes=("r8_",),
        example_models=("meta/meta-llama-3-8b-instruct", "meta/meta-llama-3-70b-instruct"),
    )

    def validation_request(self) -> OutboundRequest | None:
        return self.build_request("GET", "/account")

    # ---- chat: a synchronous prediction (Prefer: wait) ---------------------------------------
    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        if not MODEL_NAME.fullmatch(request.model):
            raise UpstreamBadRequest(
                f"Replicate models are named owner/name (e.g. meta/meta-llama-3-8b-instruct); got '{request.model}'. "
                "Version-pinned ids (owner/name:version) are not supported."
            )
        inputs: dict[str, Any] = {"prompt": flatten_conversation(request.conversation)}
        system = request.system_text
        if system is not None:
            inputs["system_prompt"] = system
        if request.max_tokens is not None:
            # Input names vary by model; current models read max_tokens, older ones max_new_tokens.
            inputs["max_tokens"] = request.max_tokens
            inputs["max_new_tokens"] = request.max_tokens
        if request.temperature is not None:
            inputs["temperature"] = request.temperature
        return self.build_request(
            "POST", f"/models/{request.model}/predictions", json={"input": inputs}, headers={"Prefer": "wait"}
        )

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        data = http.json_or_empty(response)
        if not isinstance(data, dict) or "status" not in data:
            raise UpstreamError(f"{self.spec.name} returned an answer without a prediction status.")
        status = data.get("status")
        if status in ("starting", "processing"):
            # Prefer: wait holds the request for up to 60 s; a longer prediction is still running.
            raise UpstreamTimeout(
                f"The {self.spec.name} prediction did not finish in time (status {status}); "
                "the model may be cold-starting, try again."
            )
        if status != "succeeded":
            detail = data.get("error") or "no error message"
            raise UpstreamError(f"The {self.spec.name} prediction {status}: {detail}.")
        output = data.get("output")
        if isinstance(output, list):
            text = "".join(str(piece) for piece in output if piece is not None)
        elif output is None:
            text = ""
        else:
            text = str(output)
        # No standard usage field; official language models report token counts in metrics.
        metrics = data.get("metrics")
        usage = (
            Usage.of(metrics.get("input_token_count"), metrics.get("output_token_count"))
            if isinstance(metrics, dict)
            else None
        )
        return ChatResult(text=text, usage=usage, finish_reason=None, model=request.model)
