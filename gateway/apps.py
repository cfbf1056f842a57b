from __future__ import annotations

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Inference gateway"

    def ready(self) -> None:
        from gateway import checks, telemetry  # noqa: F401  (registers the system checks)

        telemetry.configure_from_environment()
