"""Inflection AI: own inference API, Bearer key. Low confidence that it is still served."""

from __future__ import annotations

from providers.adapters._common import BaseAdapter
from providers.base import AuthStyle, ProviderSpec, ProviderStatus


class InflectionAdapter(BaseAdapter):
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
