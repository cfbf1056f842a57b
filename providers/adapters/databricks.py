"""Databricks Model Serving: the user's workspace, Bearer token, OpenAI-shaped serving endpoints."""

from __future__ import annotations

import re
from dataclasses import replace
from urllib.parse import quote

import requests

from providers import http, openai_format
from providers.base import AuthStyle, ConfigField, FieldKind, KeySignature, ProviderAdapter, ProviderSpec
from providers.chat import ChatRequest, ChatResult, UpstreamBadRequest
from providers.http import OutboundRequest
from providers.verdict import KeyStatus, Verdict

# Personal access tokens are dapi + 32 hex (+ optional -N); OAuth / M2M tokens have no fixed shape,
# so anything token-like that does not claim to be a PAT is accepted.
# The token's own user: a free call that proves the token.
SCIM_ME_PATH = "/api/2.0/preview/scim/v2/Me"
DATABRICKS_TOKEN_PATTERN = r"^(?:dapi[0-9a-f]{32,}(?:-\d+)?|(?!dapi)[A-Za-z0-9._~+/=-]{16,4096})$"


class DatabricksAdapter(ProviderAdapter):
    spec = ProviderSpec(
        id="databricks",
        name="Databricks Model Serving",
        base_url="https://{workspace}",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.databricks.com/en/machine-learning/model-serving/score-foundation-models.html",
        key_pattern=DATABRICKS_TOKEN_PATTERN,
        key_hint="Databricks personal access tokens start with dapi followed by 32 hexadecimal "
        "characters; OAuth tokens are also accepted.",
        env_var="DATABRICKS_TOKEN",
        key_signatures=(
            KeySignature(
                "a Databricks personal access token (dapi…)",
                re.compile(r"dapi[0-9a-f]{32}(?:-\d+)?$"),
                "Databricks",
            ),
        ),
        mask_prefixes=("dapi",),
        config_fields=(
            ConfigField(
                name="workspace_url",
                label="Workspace URL",
                kind=FieldKind.URL,
                hint="The https:// URL of your workspace, e.g. "
                "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com or "
                "https://adb-1234567890123456.7.azuredatabricks.net.",
            ),
            ConfigField(
                name="api_token",
                label="Access token",
                kind=FieldKind.SECRET,
                pattern=DATABRICKS_TOKEN_PATTERN,
                hint="A personal access token (dapi…) or an OAuth access token.",
            ),
        ),
        secret_field="api_token",
        env_config=(("workspace_url", "DATABRICKS_HOST"), ("api_token", "DATABRICKS_TOKEN")),
        extra={"base_url_field": "workspace_url"},
        example_models=("databricks-meta-llama-3-3-70b-instruct", "databricks-meta-llama-3-1-8b-instruct"),
    )

    def validation_request(self) -> OutboundRequest | None:
        return self.build_request("GET", SCIM_ME_PATH)

    def read_answer(self, response: requests.Response) -> Verdict:
        verdict = super().read_answer(response)
        if response.status_code in (401, 403) and http.answers_path(response, SCIM_ME_PATH):
            # "Who am I" needs nothing but a valid token; from a serving endpoint a 403 is a missing permission.
            return replace(
                verdict,
                key_status=KeyStatus.INVALID,
                reason=f"The Databricks workspace rejected the token ({response.status_code}); check the token "
                "and the workspace URL.",
            )
        return verdict

    # ---- chat: the model is the serving endpoint's name ----------------------------------------
    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        if request.model in ("", ".", ".."):
            raise UpstreamBadRequest(f"'{request.model}' is not a Databricks serving endpoint name.")
        # The endpoint in the path decides the model, so the body names none.
        body = openai_format.request_body(request)
        del body["model"]
        return self.build_request("POST", f"/serving-endpoints/{quote(request.model, safe='')}/invocations", json=body)

    def parse_chat(self, response: requests.Response, request: ChatRequest) -> ChatResult:
        return openai_format.parse_response(
            http.json_or_empty(response), provider_name=self.spec.name, model=request.model
        )
