"""Cohere: own v2 chat API, Bearer key."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers import http
from providers import validation as v
from providers.adapters._common import BaseAdapter
from providers.base import AuthStyle, ProviderSpec

if TYPE_CHECKING:
    import requests

    from providers.http import OutboundRequest


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

    def validation_request(self) -> OutboundRequest | None:
        return self.build_request("POST", "/v1/check-api-key")

    def interpret_validation(self, response: requests.Response) -> v.ValidationResult:
        if response.status_code == 200:
            data = http.json_or_empty(response)
            if not isinstance(data, dict) or "valid" not in data:
                # Not Cohere's answer (a proxy or captive portal page): nothing is known about the key.
                return v.ValidationResult(
                    v.KeyStatus.UNVERIFIED, "Cohere answered 200 without a readable result; try again later.", 200
                )
            if data.get("valid") is not True:
                return v.invalid("Cohere reports the key as not valid.", 200)
        return super().interpret_validation(response)
