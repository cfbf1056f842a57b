"""Ollama: a local server (no auth) or ollama.com cloud (Bearer key)."""

from __future__ import annotations

from providers.adapters._common import BaseAdapter
from providers.base import LOOSE_KEY_PATTERN, AuthStyle, ConfigField, FieldKind, ProviderSpec

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
        extra={"base_url_field": "base_url", "cloud_base_url": "https://ollama.com"},
        example_models=("llama3.2", "qwen2.5", "gemma3"),
    )
