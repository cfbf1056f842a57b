"""Google AI (Gemini API): own ``generateContent`` API, ``x-goog-api-key`` header."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers import validation as v
from providers.adapters._common import BaseAdapter
from providers.base import AuthStyle, ProviderSpec

if TYPE_CHECKING:
    import requests

    from providers.http import OutboundRequest


class GoogleAdapter(BaseAdapter):
    spec = ProviderSpec(
        id="google",
        name="Google AI (Gemini API)",
        base_url="https://generativelanguage.googleapis.com/v1beta",
        auth_style=AuthStyle.GOOGLE,
        docs_url="https://ai.google.dev/gemini-api/docs",
        # Legacy standard keys (AIza…) are being retired during 2026; AI Studio now issues auth keys
        # (AQ.…, some reports show IQ.…). Accept both, with a minimum length only.
        key_pattern=r"^(?:AIza[0-9A-Za-z_-]{35,}|[AI]Q\.[A-Za-z0-9_.-]{20,})$",
        key_hint="Gemini API keys start with AQ. (new auth keys) or AIza (older standard keys); create "
        "one at https://aistudio.google.com/apikey.",
        env_var="GEMINI_API_KEY",
        example_models=("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro"),
    )

    def validation_request(self) -> OutboundRequest | None:
        # The key goes in the x-goog-api-key header, never in ?key= (URLs end up in logs).
        return self.build_request("GET", "/models")

    def interpret_validation(self, response: requests.Response) -> v.ValidationResult:
        text = response.text
        if response.status_code == 400 and "API_KEY_INVALID" in text:
            return v.invalid("Google rejected the key as invalid, expired or revoked (API_KEY_INVALID).", 400)
        if response.status_code == 401 and "ACCESS_TOKEN_TYPE_UNSUPPORTED" in text:
            return v.invalid(
                "Google does not accept this kind of credential for the Gemini API (ACCESS_TOKEN_TYPE_UNSUPPORTED).",
                401,
            )
        if response.status_code == 403:
            return v.ValidationResult(
                v.KeyStatus.RESTRICTED,
                "The key exists but has no Gemini API access (API not enabled, key restricted, or blocked).",
                403,
            )
        return super().interpret_validation(response)
