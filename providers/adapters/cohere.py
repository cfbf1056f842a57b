"""Cohere: own v2 chat API, Bearer key."""

from __future__ import annotations

from providers.adapters._common import BaseAdapter
from providers.base import AuthStyle, ProviderSpec


class CohereAdapter(BaseAdapter):
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
