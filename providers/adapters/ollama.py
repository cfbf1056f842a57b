"""Ollama: a local server (no auth) or ollama.com cloud (Bearer key)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.adapters._common import BaseAdapter
from providers.base import LOOSE_KEY_PATTERN, AuthStyle, ConfigField, FieldKind, ProviderSpec

if TYPE_CHECKING:
    from providers.http import OutboundRequest

DEFAULT_OLLAMA_URL = "http://localhost:11434"


class OllamaAdapter(BaseAdapter):
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
        # A local Ollama server speaks plain http; the SSRF guard still applies to its address.
        extra={"base_url_field": "base_url", "cloud_base_url": "https://ollama.com", "allow_http": True},
        example_models=("llama3.2", "qwen2.5", "gemma3"),
    )

    def auth_headers(self) -> dict[str, str]:
        secret = self.secret()
        return {"Authorization": f"Bearer {secret}"} if secret else {}

    def validation_request(self) -> OutboundRequest | None:
        # Reachability for a local server; with an ollama.com key, an authenticated listing.
        return self.build_request("GET", "/api/tags" if self.secret() else "/api/version")
