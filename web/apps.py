from __future__ import annotations

from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "web"
    verbose_name = "Web page"

    def ready(self) -> None:
        from web import throttle  # noqa: F401  (connects the sign-in failure receivers)
