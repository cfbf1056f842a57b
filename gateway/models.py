"""Inference accounting: an append-only usage record per provider call, and running totals."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class KeySource(models.TextChoices):
    USER = "user", "User key"
    GROUP = "group", "Group key"
    SYSTEM = "system", "System key"


class UsageRecord(models.Model):
    """One provider call (or failed attempt) made through the service. Never a secret or a prompt."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records")
    provider_key = models.ForeignKey(
        "byok_keys.ProviderKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    key_label = models.CharField(max_length=120, blank=True, help_text="keyId, or the system key's variable.")
    source = models.CharField(max_length=8, choices=KeySource.choices)
    organization = models.ForeignKey(
        "groups.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=200)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    total_tokens = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=40, help_text="'ok' or the error code.")
    # Who made the call, for a compromised key's blast radius: the API token's public prefix (empty for
    # the page's session) and the client's address.
    token_prefix = models.CharField(max_length=24, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "byok_keys_usagerecord"  # the table it had in byok_keys (moved without a data change)
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="usage_user_recent")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.provider}/{self.model} {self.status}"


class UsageTotal(models.Model):
    """Running totals of successful calls per (user, group, provider, source), updated atomically with
    each call, so stats never scan the usage records."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_totals")
    organization = models.ForeignKey(
        "groups.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="usage_totals"
    )
    provider = models.CharField(max_length=32)
    source = models.CharField(max_length=8, choices=KeySource.choices)
    calls = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    total_tokens = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "byok_keys_usagetotal"  # the table it had in byok_keys (moved without a data change)
        constraints = [
            models.UniqueConstraint(
                fields=["user", "provider", "source"],
                condition=Q(organization__isnull=True),
                name="usage_total_unique_personal",
            ),
            models.UniqueConstraint(
                fields=["user", "organization", "provider", "source"],
                condition=Q(organization__isnull=False),
                name="usage_total_unique_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.organization_id}/{self.provider}/{self.source}: {self.calls}"
