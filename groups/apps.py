from __future__ import annotations

from django.apps import AppConfig


class GroupsConfig(AppConfig):
    name = "groups"
    verbose_name = "Users and groups"

    def ready(self) -> None:
        # Connects the sign-in receivers (audit events for sign-ins and failed sign-ins).
        from groups import receivers  # noqa: F401
