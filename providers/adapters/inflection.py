"""Inflection AI: own inference API, Bearer key. Low confidence that it is still served."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers import validation as v
from providers.adapters._common import BaseAdapter
from providers.base import AuthStyle, ProviderSpec, ProviderStatus

if TYPE_CHECKING:
    import requests

    from providers.http import OutboundRequest


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

    def validation_request(self) -> OutboundRequest | None:
        # Billed: only sent when BYOK_ALLOW_BILLED_VALIDATION is on (see providers.validation).
        return self.build_request(
            "POST",
            "/external/api/inference",
            json={"config": "inflection_3_pi", "context": [{"type": "Human", "text": "ping"}]},
        )

    def interpret_validation(self, response: requests.Response) -> v.ValidationResult:
        if response.status_code in (401, 403):
            return v.invalid(f"Inflection rejected the key ({response.status_code}).", response.status_code)
        return super().interpret_validation(response)
