"""Azure OpenAI: the user's resource endpoint and deployment, ``api-key`` header."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.adapters._common import BaseAdapter
from providers.base import AuthStyle, ConfigField, FieldKind, ProviderSpec

if TYPE_CHECKING:
    from providers.http import OutboundRequest

# Legacy keys are 32 hex, newer ones 84 characters; Azure has changed this before, so no exact length.
AZURE_KEY_PATTERN = r"^[A-Za-z0-9+/=]{32,100}$"


class AzureOpenAIAdapter(BaseAdapter):
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
