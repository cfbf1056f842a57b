"""Replicate: own predictions API (``Prefer: wait``), Bearer token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from providers.adapters._common import BaseAdapter
from providers.base import AuthStyle, ProviderSpec

if TYPE_CHECKING:
    from providers.http import OutboundRequest


class ReplicateAdapter(BaseAdapter):
    spec = ProviderSpec(
        id="replicate",
        name="Replicate",
        base_url="https://api.replicate.com/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://replicate.com/docs/reference/http",
        key_pattern=r"^r8_[0-9A-Za-z_-]{30,}$",
        key_hint="Replicate API tokens start with r8_ (usually followed by 37 characters).",
        env_var="REPLICATE_API_TOKEN",
        example_models=("meta/meta-llama-3-8b-instruct", "meta/meta-llama-3-70b-instruct"),
    )

    def validation_request(self) -> OutboundRequest | None:
        return self.build_request("GET", "/account")
