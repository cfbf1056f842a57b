"""Operator settings the providers read: base URL overrides.

Read on each call, never at import time, so a changed setting or environment variable applies to the
next request (and tests can override them).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class HasBaseURL(Protocol):
    """What a base URL lookup needs of a provider spec (``providers.base.ProviderSpec`` sits above)."""

    @property
    def id(self) -> str: ...

    @property
    def base_url(self) -> str: ...


def base_url_env_var(provider_id: str) -> str:
    """The environment variable that overrides a provider's base URL: ``BYOK_<ID>_BASE_URL``."""
    return f"BYOK_{provider_id.upper()}_BASE_URL"


def _settings_base_url_overrides() -> Mapping[str, str]:
    try:
        overrides = getattr(settings, "BYOK_BASE_URL_OVERRIDES", None)
    except ImproperlyConfigured:
        # Used outside a Django project (a script, the Django-free provider tests): env only.
        return {}
    return overrides or {}


def effective_base_url(spec: HasBaseURL) -> str:
    """The base URL to call: the operator's override (``BYOK_BASE_URL_OVERRIDES`` setting, then the
    ``BYOK_<ID>_BASE_URL`` environment variable) if set, else the provider's default."""
    override = _settings_base_url_overrides().get(spec.id) or os.environ.get(base_url_env_var(spec.id), "")
    override = override.strip()
    if override:
        return override.rstrip("/")
    return spec.base_url
