"""Google AI (Gemini API): own ``generateContent`` API, ``x-goog-api-key`` header."""

from __future__ import annotations

from providers.adapters._common import BaseAdapter
from providers.base import AuthStyle, ProviderSpec


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
