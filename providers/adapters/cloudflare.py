"""Cloudflare Workers AI: account id + API token (Bearer)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import requests

from providers import http
from providers.base import (
    WRONG_KEY_KIND,
    AuthStyle,
    ConfigField,
    CredentialFormatError,
    FieldKind,
    KeySignature,
    ProviderAdapter,
    ProviderSpec,
)
from providers.chat import ChatRequest, ChatResult, UpstreamBadRequest, UpstreamError, Usage
from providers.http import OutboundRequest
from providers.verdict import KeyStatus, Verdict, accepted, failed, refused

# Legacy tokens: 40 x [A-Za-z0-9_-]. Since 2026: cfut_ (user) / cfat_ (account) + 40 alnum + 8 hex.
# Cloudflare changed the format once already, so minimum lengths only.
CLOUDFLARE_TOKEN_PATTERN = r"^(?:cf[ua]t_[A-Za-z0-9]{40,}|(?!cf[ua]t_)[A-Za-z0-9_-]{40,})$"
# The Global API Key (sent as X-Auth-Key + X-Auth-Email) can do everything on the account.
GLOBAL_API_KEY = re.compile(r"[0-9a-f]{37}")


class CloudflareAdapter(ProviderAdapter):
    spec = ProviderSpec(
        id="cloudflare",
        name="Cloudflare Workers AI",
        base_url="https://api.cloudflare.com/client/v4",
        auth_style=AuthStyle.BEARER,
        docs_url="https://developers.cloudflare.com/workers-ai/",
        key_pattern=CLOUDFLARE_TOKEN_PATTERN,
        key_hint="Cloudflare API tokens start with cfut_ or cfat_ (older tokens are 40 characters); "
        "create one with Workers AI permission under My Profile > API Tokens.",
        env_var="CLOUDFLARE_API_TOKEN",
        key_signatures=(KeySignature("a Cloudflare API token (cfut_…/cfat_…)", re.compile(r"cf[ua]t_"), "Cloudflare"),),
        mask_prefixes=("cfut_", "cfat_"),
        config_fields=(
            ConfigField(
                name="account_id",
                label="Account ID",
                kind=FieldKind.TEXT,
                pattern=r"^[0-9a-fA-F]{32}$",
                hint="The 32-character hexadecimal Account ID shown on the Workers AI page of the dashboard.",
            ),
            ConfigField(
                name="api_token",
                label="API token",
                kind=FieldKind.SECRET,
                pattern=CLOUDFLARE_TOKEN_PATTERN,
                hint="An API token with Workers AI permission (cfut_… / cfat_…, or a 40-character older token).",
            ),
        ),
        secret_field="api_token",
        env_config=(("account_id", "CLOUDFLARE_ACCOUNT_ID"), ("api_token", "CLOUDFLARE_API_TOKEN")),
        example_models=("@cf/meta/llama-3.1-8b-instruct", "@cf/meta/llama-3.3-70b-instruct-fp8-fast"),
    )

    @classmethod
    def check_key_kind(cls, key: str, *, field: str | None = None) -> None:
        if GLOBAL_API_KEY.fullmatch(key):
            raise CredentialFormatError(
                "This looks like a Cloudflare Global API Key (37 hexadecimal characters), which grants "
                "full access to the whole account and is not accepted. Create an API token with the "
                "Workers AI permission instead (My Profile > API Tokens > Create Token).",
                code=WRONG_KEY_KIND,
                field=field,
            )
        super().check_key_kind(key, field=field)

    def validation_request(self) -> OutboundRequest | None:
        assert isinstance(self.credential, dict)
        token = self.credential["api_token"]
        if token.startswith("cfat_"):  # account tokens verify under their account
            return self.build_request("GET", f"/accounts/{self.credential['account_id']}/tokens/verify")
        return self.build_request("GET", "/user/tokens/verify")

    def read_answer(self, response: requests.Response) -> Verdict:
        verdict = super().read_answer(response)
        if response.status_code in (401, 403) and http.answers_path(response, "/tokens/verify"):
            # The token check only looks at the token; from Workers AI a 403 is a missing permission.
            return replace(
                verdict,
                key_status=KeyStatus.INVALID,
                reason=f"Cloudflare rejected the API token ({response.status_code}).",
            )
        if response.status_code == 200:
            data = http.json_or_empty(response)
            result = data.get("result") if isinstance(data, dict) else None
            if not isinstance(result, dict):
                # Not Cloudflare's answer (a proxy or captive portal page): nothing is known about the token.
                return failed("Cloudflare answered 200 without a readable result; try again later.", http_status=200)
            status = result.get("status")
            if status != "active":
                return refused(
                    KeyStatus.INVALID,
                    f"Cloudflare reports the token's status as {status or 'unknown'}, not active.",
                    http_status=200,
                )
            return accepted(
                "Cloudflare verified the token (status active). Workers AI permission is not checked.",
                http_status=200,
            )
        return verdict

    # ---- chat: POST /accounts/{account_id}/ai/run/{model} --------------------------------------
    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        assert isinstance(self.credential, dict)
        segments = request.model.split("/")
        # The model keeps its slashes (@cf/meta/...), so "." and ".." segments would be resolved by the
        # HTTP client and could aim the token at another Cloudflare API endpoint.
        if not request.model or any(segment in ("", ".", "..") for segment in segments):
            raise UpstreamBadRequest(
                f"'{request.model}' is not a Workers AI model name (e.g. @cf/meta/llama-3.1-8b-instruct)."
            )
        body: dict[str, Any] = {"messages": [{"role": m.role, "content": m.content} for m in request.messages]}
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            body["temperature"] = request.temperature
        path = f"/accounts/{self.credential['account_id']}/ai/run/{quote(request.model, safe='@/')}"
        return self.build_request("POST", path, json=body)

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        data = http.json_or_empty(response)
        if not isinstance(data, dict):
            raise UpstreamError(f"{self.spec.name} returned an answer that is not a JSON object.")
        if data.get("success") is False:
            errors = data.get("errors") or []
            first = errors[0] if isinstance(errors, list) and errors else {}
            detail = first.get("message") if isinstance(first, dict) else first
            raise UpstreamError(f"{self.spec.name} failed: {detail or 'success is false'}.")
        result = data.get("result")
        text = result.get("response") if isinstance(result, dict) else None
        if not isinstance(text, str):
            raise UpstreamError(f"{self.spec.name} returned an answer without result.response.")
        usage = result.get("usage") if isinstance(result, dict) else None
        return ChatResult(
            text=text,
            usage=Usage.of(usage.get("prompt_tokens"), usage.get("completion_tokens"), usage.get("total_tokens"))
            if isinstance(usage, dict)
            else None,
            finish_reason=None,
            model=request.model,
        )
