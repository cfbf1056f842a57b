from __future__ import annotations

from django.apps import AppConfig


class ByokKeysConfig(AppConfig):
    name = "byok_keys"
    verbose_name = "BYOK keys"

    def ready(self) -> None:
        from byok_keys import checks, receivers  # noqa: F401  (registers the system checks and receivers)
