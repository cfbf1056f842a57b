"""Admin for the usage log (read-only: written by the gateway only)."""

from __future__ import annotations

from django.contrib import admin

from gateway.models import UsageRecord
from groups.admin_scoping import ReadOnlyLogAdmin


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnlyLogAdmin):
    """Read-only log of provider calls (never a prompt or a secret)."""

    list_display = (
        "created_at",
        "user",
        "provider",
        "model",
        "source",
        "key_label",
        "status",
        "total_tokens",
        "latency_ms",
    )
    list_filter = ("provider", "source", "status")
    search_fields = ("user__username", "key_label", "model")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
