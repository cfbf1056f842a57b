"""Admin for the usage log (read-only: written by the gateway only)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from byok_keys.admin import ProviderKeyAdmin
from byok_keys.models import ProviderKey
from gateway import compromise
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


class ProviderKeyWithIncidentAdmin(ProviderKeyAdmin):
    """The vault's key admin plus the compromised-key action, which needs the usage ledger (gateway)."""

    actions = [*ProviderKeyAdmin.actions, "mark_compromised"]

    @admin.action(description="Compromised: revoke now and report who used them")
    def mark_compromised(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for key in queryset:
            if key.status == ProviderKey.Status.REVOKED:
                continue
            report = compromise.key_compromised(actor=request.user, key=key)  # type: ignore[arg-type]
            radius = report.blast_radius
            self.message_user(
                request,
                f"Revoked {report.revoked_key_id}. Since {radius.since:%Y-%m-%d %H:%M}: {radius.calls} calls, "
                f"{radius.total_tokens} tokens, users: {', '.join(radius.users) or 'none'}, tokens: "
                f"{', '.join(radius.tokens) or 'none'}, addresses: {', '.join(radius.ips) or 'none'}.",
                messages.WARNING,
            )


admin.site.unregister(ProviderKey)
admin.site.register(ProviderKey, ProviderKeyWithIncidentAdmin)
