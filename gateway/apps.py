from __future__ import annotations

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Inference gateway"

    def ready(self) -> None:
        from byok_keys.usage import key_usage_reader_install
        from gateway import checks, telemetry  # noqa: F401  (registers the system checks)
        from gateway.usage import key_usage_read

        telemetry.configure_from_environment()
        # The vault shows a key's use from this app's ledger (see byok_keys/usage.py).
        key_usage_reader_install(key_usage_read)
