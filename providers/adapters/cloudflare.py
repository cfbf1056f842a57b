"""Cloudflare Workers AI: account id + API token (Bearer)."""

from __future__ import annotations

import re

from providers.adapters._common import WRONG_KEY_KIND, BaseAdapter
from providers.base import AuthStyle, ConfigField, CredentialFormatError, FieldKind, ProviderSpec

# Legacy tokens: 40 x [A-Za-z0-9_-]. Since 2026: cfut_ (user) / cfat_ (account) + 40 alnum + 8 hex.
# Cloudflare changed the format once already, so minimum lengths only.
CLOUDFLARE_TOKEN_PATTERN = r"^(?:cf[ua]t_[A-Za-z0-9]{40,}|(?!cf[ua]t_)[A-Za-z0-9_-]{40,})$"
# The Global API Key (sent as X-Auth-Key + X-Auth-Email) can do everything on the account.
GLOBAL_API_KEY = re.compile(r"[0-9a-f]{37}")


class CloudflareAdapter(BaseAdapter):
    spec = ProviderSpec(
        id="cloudflare",
        name="Cloudflare Workers AI",
        base_url="https://api.cloudflare.com/client/v4",
        auth_style=AuthStyle.BEARER,
        docs_url="https://developers.cloudflare.com/workers-ai/",
        key_pattern=CLOUDFLARE_TOKEN_PATTERN,
        key_hint="Cloudflare API tokens start with cfut_ or cfat_ (older tokens are 40 characters); "
        "create one with Workers AI permission under My Profile > API Tokens.",
        env_var="CLOUDFLARE_API_TOKEN",
        config_fields=(
            ConfigField(
                name="account_id",
                label="Account ID",
                kind=FieldKind.TEXT,
                pattern=r"^[0-9a-fA-F]{32}$",
                hint="The 32-character hexadecimal Account ID shown on the Workers AI page of the dashboard.",
            ),
            ConfigField(
                name="api_token",
                label="API token",
                kind=FieldKind.SECRET,
                pattern=CLOUDFLARE_TOKEN_PATTERN,
                hint="An API token with Workers AI permission (cfut_… / cfat_…, "
                "or a 40-character older token).",
            ),
        ),
        secret_field="api_token",
        env_config=(("account_id", "CLOUDFLARE_ACCOUNT_ID"), ("api_token", "CLOUDFLARE_API_TOKEN")),
        example_models=("@cf/meta/llama-3.1-8b-instruct", "@cf/meta/llama-3.3-70b-instruct-fp8-fast"),
    )

    @classmethod
    def check_key_kind(cls, key: str, *, field: str | None = None) -> None:
        if GLOBAL_API_KEY.fullmatch(key):
            raise CredentialFormatError(
                "This looks like a Cloudflare Global API Key (37 hexadecimal characters), which grants "
                "full access to the whole account and is not accepted. Create an API token with the "
                "Workers AI permission instead (My Profile > API Tokens > Create Token).",
                code=WRONG_KEY_KIND,
                field=field,
            )
        super().check_key_kind(key, field=field)
