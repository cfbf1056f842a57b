"""Inference accounting: the usage ledger (an append-only record per provider call), the totals rolled
up from it, and how far the roll-up has gone."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now


class KeySource(models.TextChoices):
    USER = "user", "User key"
    GROUP = "group", "Group key"
    SYSTEM = "system", "System key"


class UsageRecord(models.Model):
    """One provider call (or failed attempt) made through the service. Never a secret or a prompt.

    The ledger every count and total is derived from: written once, never updated (but for a deleted
    key or group, which is cleared from it)."""

    # Each foreign key is indexed as the first column of a (…, id) index below, not on its own.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_records", db_index=False
    )
    provider_key = models.ForeignKey(
        "byok_keys.ProviderKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    key_label = models.CharField(max_length=120, blank=True, help_text="keyId, or the system key's variable.")
    source = models.CharField(max_length=8, choices=KeySource.choices)
    organization = models.ForeignKey(
        "groups.Organization", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
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
    # The database's clock at the insert, not the app server's: the roll-up compares it with the
    # database's clock too (gateway.usage.rollup_usage), so app servers whose clocks drift apart cannot
    # make a record look older than it is.
    created_at = models.DateTimeField(db_default=Now(), db_index=True, editable=False)

    class Meta:
        db_table = "byok_keys_usagerecord"  # the table it had in byok_keys (moved without a data change)
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="usage_user_recent"),
            # The tail (records past the roll-up's watermark) of one user, one key or one group: a short
            # range at the end of each index, however long the ledger.
            models.Index(fields=["user", "id"], name="usage_user_tail"),
            models.Index(fields=["provider_key", "id"], name="usage_key_tail"),
            models.Index(fields=["organization", "id"], name="usage_group_tail"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.provider}/{self.model} {self.status}"


class UsageTotal(models.Model):
    """Totals of successful calls per (user, group, provider, source, UTC day), rolled up from the usage
    records by ``gateway.usage.rollup_usage`` (never by a call), so stats never scan the ledger."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="usage_totals")
    organization = models.ForeignKey(
        "groups.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="usage_totals"
    )
    provider = models.CharField(max_length=32)
    source = models.CharField(max_length=8, choices=KeySource.choices)
    day = models.DateField(help_text="The UTC day of the calls.")
    calls = models.PositiveBigIntegerField(default=0)
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    total_tokens = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "byok_keys_usagetotal"  # the table it had in byok_keys (moved without a data change)
        constraints = [
            models.UniqueConstraint(
                fields=["user", "provider", "source", "day"],
                condition=Q(organization__isnull=True),
                name="usage_total_unique_personal",
            ),
            models.UniqueConstraint(
                fields=["user", "organization", "provider", "source", "day"],
                condition=Q(organization__isnull=False),
                name="usage_total_unique_group",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id}/{self.organization_id}/{self.provider}/{self.source}: {self.calls}"


class UsageRollup(models.Model):
    """The roll-up's one row: the last usage record counted into the totals (the watermark).

    Records up to the watermark are in ``UsageTotal`` and on the keys (``ProviderKey.usage_count`` and
    ``last_used_at``); the ones after it (the tail) are added on read. The roll-up holds this row's lock
    while it moves the watermark, so two roll-ups never count a record twice."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    watermark = models.PositiveBigIntegerField(default=0, help_text="The id of the last usage record rolled up.")
    rolled_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(id=1), name="usage_rollup_single_row")]

    def __str__(self) -> str:
        return f"usage rolled up to record {self.watermark}"
