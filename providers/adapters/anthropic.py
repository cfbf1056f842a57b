"""Anthropic: own Messages API, ``x-api-key`` plus ``anthropic-version``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.adapters._common import WRONG_KEY_KIND, BaseAdapter
from providers.base import AuthStyle, CredentialFormatError, ProviderSpec

if TYPE_CHECKING:
    from providers.http import OutboundRequest

ANTHROPIC_VERSION = "2023-06-01"


class AnthropicAdapter(BaseAdapter):
    spec = ProviderSpec(
        id="anthropic",
        name="Anthropic",
        base_url="https://api.anthropic.com",
        auth_style=AuthStyle.X_API_KEY,
        docs_url="https://docs.claude.com/en/api/overview",
        # Today sk-ant-api03- + 93 chars + AA; accept a future apiNN- and any length from 80.
        key_pattern=r"^sk-ant-api\d{2}-[A-Za-z0-9_-]{80,}$",
        key_hint="Anthropic keys start with sk-ant-api03-; create one at https://console.anthropic.com/settings/keys.",
        env_var="ANTHROPIC_API_KEY",
        extra={"anthropic_version": ANTHROPIC_VERSION},
        example_models=("claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"),
    )

    @classmethod
    def check_key_kind(cls, key: str, *, field: str | None = None) -> None:
        if key.startswith("sk-ant-admin"):
            raise CredentialFormatError(
                "This is an Anthropic Admin API key (sk-ant-admin01-…). Admin keys manage the "
                "organization and cannot call the Messages API. Create an API key (sk-ant-api03-…) at "
                "https://console.anthropic.com/settings/keys.",
                code=WRONG_KEY_KIND,
                field=field,
            )
        if key.startswith("sk-ant-oat"):
            raise CredentialFormatError(
                "This is a Claude Code OAuth token (sk-ant-oat01-…), not an API key. Create an API key "
                "(sk-ant-api03-…) at https://console.anthropic.com/settings/keys.",
                code=WRONG_KEY_KIND,
                field=field,
            )
        super().check_key_kind(key, field=field)

    def auth_headers(self) -> dict[str, str]:
        return {"x-api-key": self.secret(), "anthropic-version": ANTHROPIC_VERSION}

    def validation_request(self) -> OutboundRequest | None:
        return self.build_request("GET", "/v1/models")
