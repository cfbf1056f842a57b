from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class ApiToken(models.Model):
    """The service's own credential (``Authorization: Bearer byokt_<lookup>.<secret>``).

    Only the SHA-256 digest is stored; the plaintext is shown once when created.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, default="default")
    lookup_id = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"byokt_{self.lookup_id}… ({self.name})"

    @property
    def prefix(self) -> str:
        return f"byokt_{self.lookup_id}"

    @property
    def state(self) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"


class ProviderKey(models.Model):
    """An encrypted provider credential owned by exactly one user or one group."""

    class Status(models.TextChoices):
        UNVERIFIED = "unverified", "Unverified"
        VALID = "valid", "Valid"
        RESTRICTED = "restricted", "Valid, restricted"
        NO_CREDIT = "no_credit", "Valid, no credit"
        INVALID = "invalid", "Invalid"
        REVOKED = "revoked", "Revoked"
        # The stored secret cannot be opened with the configured master keys (missing or wrong key,
        # or a tampered value): skipped by resolution until an operator fixes the keys.
        UNDECRYPTABLE = "undecryptable", "Cannot be decrypted"

    key_id = models.CharField(max_length=120, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="provider_keys",
    )
    organization = models.ForeignKey(
        "groups.Organization", null=True, blank=True, on_delete=models.CASCADE, related_name="provider_keys"
    )
    provider = models.CharField(max_length=32)
    name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    # byok:v1:<master key id>:<nonce+ciphertext>; never the plaintext (see byok_keys/crypto.py).
    sealed_secret = models.TextField(editable=False)
    # <master key id>:<HMAC-SHA256> of the secret under a key derived from the master key (see crypto.py):
    # lets a new secret be compared with this one (e.g. a revoked key sent again) without decrypting.
    secret_fingerprint = models.CharField(max_length=80, blank=True, editable=False)
    last4 = models.CharField(max_length=4, blank=True, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UNVERIFIED)
    status_reason = models.CharField(max_length=300, blank=True)
    last_validated_at = models.DateTimeField(null=True, blank=True)
    invalid_checks = models.PositiveIntegerField(default=0, help_text="Consecutive checks that found it invalid.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The calls rolled up onto the key from the usage ledger (gateway.usage.rollup_usage), up to usage
    # record #usage_rolled_up_to; the calls recorded since are not in them. Read a key's use with
    # byok_keys.usage.with_usage(), which sets current_usage_count and current_last_used_at.
    last_used_at = models.DateTimeField(null=True, blank=True)
    usage_count = models.PositiveBigIntegerField(default=0)
    usage_rolled_up_to = models.PositiveBigIntegerField(
        default=0, editable=False, help_text="The last usage record counted in usage_count and last_used_at."
    )
    current_usage_count: int
    current_last_used_at: datetime | None
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Group keys: usable by every member, or only by ``allowed_users``.
    allow_all_members = models.BooleanField(default=True)
    allowed_users = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")

    class Meta:
        ordering = ["provider"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(user__isnull=False) & Q(organization__isnull=True))
                | (Q(user__isnull=True) & Q(organization__isnull=False)),
                name="provider_key_exactly_one_owner",
            ),
            models.UniqueConstraint(
                fields=["user", "provider"], condition=Q(user__isnull=False), name="provider_key_one_per_user"
            ),
            models.UniqueConstraint(
                fields=["organization", "provider"],
                condition=Q(organization__isnull=False),
                name="provider_key_one_per_group",
            ),
        ]

    def __str__(self) -> str:
        return self.key_id

    @property
    def is_group_key(self) -> bool:
        return self.organization_id is not None

    @property
    def owner_label(self) -> str:
        if self.organization is not None:
            return f"group:{self.organization.slug}"
        return f"user:{self.user.username}" if self.user is not None else "?"

    def aad(self) -> bytes:
        """Associated data binding the sealed secret to this record (key id, owner, provider)."""
        owner = f"org:{self.organization_id}" if self.organization_id else f"user:{self.user_id}"
        return f"byok-provider-key|{self.key_id}|{owner}|{self.provider}".encode()
