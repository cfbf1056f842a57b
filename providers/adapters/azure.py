"""Azure OpenAI: the user's resource endpoint and deployment, ``api-key`` header."""

from __future__ import annotations

from urllib.parse import quote

from providers import openai_format
from providers.base import AuthStyle, ConfigField, FieldKind, ProviderSpec
from providers.chat import ChatRequest
from providers.http import OutboundRequest

# api_version values that select the v1 API (``/openai/v1/...``) rather than a dated deployment API.
V1_API_VERSIONS = frozenset({"", "v1"})
# The v1 API takes these as ?api-version= to opt into preview features.
V1_QUERY_VERSIONS = frozenset({"latest", "preview"})
# stream_options (for the final usage chunk) is accepted by dated versions from 2024-09-01-preview on;
# older ones reject it as an unrecognized argument.
FIRST_VERSION_WITH_STREAM_OPTIONS = "2024-09-01"

# Legacy keys are 32 hex, newer ones 84 characters; Azure has changed this before, so no exact length.
AZURE_KEY_PATTERN = r"^[A-Za-z0-9+/=]{32,100}$"


class AzureOpenAIAdapter(openai_format.OpenAIWireChat):
    spec = ProviderSpec(
        id="azure",
        name="Azure OpenAI",
        base_url="https://{resource}.openai.azure.com",
        auth_style=AuthStyle.API_KEY_HEADER,
        docs_url="https://learn.microsoft.com/azure/ai-foundry/openai/reference",
        key_pattern=AZURE_KEY_PATTERN,
        key_hint="Azure OpenAI keys are KEY 1 or KEY 2 from the resource's 'Keys and Endpoint' page "
        "(32 to 100 characters, no prefix).",
        env_var="AZURE_OPENAI_API_KEY",
        config_fields=(
            ConfigField(
                name="endpoint_url",
                label="Endpoint URL",
                kind=FieldKind.URL,
                hint="The https:// endpoint of your resource, e.g. https://my-resource.openai.azure.com "
                "or https://my-resource.cognitiveservices.azure.com.",
            ),
            ConfigField(
                name="api_key",
                label="API key",
                kind=FieldKind.SECRET,
                pattern=AZURE_KEY_PATTERN,
                hint="KEY 1 or KEY 2 from 'Keys and Endpoint' (32 to 100 characters).",
            ),
            ConfigField(
                name="deployment_id",
                label="Deployment name",
                kind=FieldKind.TEXT,
                pattern=r"^[A-Za-z0-9._-]{1,64}$",
                hint="The name you gave the model deployment (letters, digits, '.', '_' and '-').",
            ),
            ConfigField(
                name="api_version",
                label="API version",
                kind=FieldKind.TEXT,
                required=False,
                pattern=r"^(?:\d{4}-\d{2}-\d{2}(?:-preview)?|v1|latest|preview)$",
                hint="A dated version such as 2024-10-21; leave empty for the v1 API.",
            ),
        ),
        secret_field="api_key",
        env_config=(
            ("endpoint_url", "AZURE_OPENAI_ENDPOINT"),
            ("api_key", "AZURE_OPENAI_API_KEY"),
            ("deployment_id", "AZURE_OPENAI_DEPLOYMENT"),
            ("api_version", "AZURE_OPENAI_API_VERSION"),
        ),
        extra={"base_url_field": "endpoint_url", "validation_api_version": "2024-10-21"},
        # Deployment names are the user's; these are the usual model behind them.
        example_models=("gpt-4o-mini", "gpt-4.1"),
    )

    def validation_request(self) -> OutboundRequest | None:
        # Lists the resource's models: proves the key and endpoint (not the deployment name).
        version = self.spec.extra["validation_api_version"]
        return self.build_request("GET", f"/openai/models?api-version={version}")

    # ---- chat: the deployment serves; the model the caller named is informational ------------
    streams = True

    def _config(self) -> dict[str, str]:
        assert isinstance(self.credential, dict)
        return self.credential

    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        config = self._config()
        deployment = config["deployment_id"]
        version = config.get("api_version") or ""
        if version in V1_API_VERSIONS or version in V1_QUERY_VERSIONS:
            body = openai_format.request_body(request, model=deployment, stream=stream)
            query = f"?api-version={version}" if version in V1_QUERY_VERSIONS else ""
            path = f"/openai/v1/chat/completions{query}"
        else:
            # The deployment in the path decides the model, so the body names none.
            body = openai_format.request_body(request, stream=stream)
            del body["model"]
            if stream and version < FIRST_VERSION_WITH_STREAM_OPTIONS:
                del body["stream_options"]
            path = f"/openai/deployments/{quote(deployment, safe='')}/chat/completions?api-version={version}"
        return self.build_request("POST", path, json=body)
