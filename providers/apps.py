from __future__ import annotations

from django.apps import AppConfig

from common.masking import register_key_prefixes
from providers.registry import key_mask_prefixes


class ProvidersConfig(AppConfig):
    name = "providers"
    verbose_name = "LLM providers"

    def ready(self) -> None:
        # Log masking hides every registered provider's keys; common cannot import the registry itself.
        register_key_prefixes(key_mask_prefixes())
