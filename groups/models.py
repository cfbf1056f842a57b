from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """The service's user. ``username`` is the ``userId`` of the API."""

    default_group = models.ForeignKey(
        "groups.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The group whose keys are tried first; set to the first group the user joins.",
    )


class Organization(models.Model):
    """A group of users sharing provider keys (the API calls it a *group*)."""

    slug = models.SlugField(max_length=64, unique=True, help_text="The groupId used in URLs.")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    members: models.ManyToManyField[User, Membership] = models.ManyToManyField(
        User, through="Membership", through_fields=("organization", "user"), related_name="organizations"
    )

    class Meta:
        ordering = ["slug"]
        verbose_name = "group"
        verbose_name_plural = "groups"
        permissions = [("manage_all_groups", "Can manage every group, its members and its keys")]

    def __str__(self) -> str:
        return self.slug


class MembershipQuerySet(models.QuerySet["Membership"]):
    def active(self) -> MembershipQuerySet:
        """Accepted memberships: only these give access to a group and its keys."""
        return self.filter(accepted_at__isnull=False)


class Membership(models.Model):
    """A user's place in a group. Added by someone else, it is an invitation until the user accepts:
    otherwise anyone could enrol anyone in a group whose keys (and endpoints) they control, and
    receive that person's prompts."""

    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)
    invited_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True, help_text="Empty while the invitation is pending.")

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["organization__slug", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique_user_group"),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "admin", "member"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user.username} in {self.organization.slug} ({self.role})"

    @property
    def is_active(self) -> bool:
        return self.accepted_at is not None


class AuditEvent(models.Model):
    """Who did what to which object, written in the same transaction as the change. Never a secret.

    Events form a hash chain (``groups.chain``): ``sequence`` numbers them without gaps, ``prev_hash``
    is the previous event's ``hash``. Rows are only ever inserted, by ``groups.audit.audit_record``.
    """

    # The actor and group ids are part of the hashed record, so deleting a user or a group must not
    # rewrite them (SET_NULL would edit history and break the chain): no database constraint, nothing
    # done on delete. ``actor_label`` keeps the username; a deleted actor or group reads as empty.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    actor_label = models.CharField(max_length=150, blank=True, help_text="Username, kept if the user is deleted.")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=32)
    target_id = models.CharField(max_length=150)
    organization = models.ForeignKey(
        "groups.Organization",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        verbose_name="group",
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # Set by audit_record before hashing (auto_now_add would change it after the hash was computed).
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    details = models.JSONField(default=dict, blank=True)
    sequence = models.PositiveBigIntegerField(unique=True, help_text="Position in the hash chain: 1, 2, 3 …")
    prev_hash = models.CharField(max_length=64, help_text="The previous event's hash (zeros for the first).")
    hash = models.CharField(max_length=64, help_text="HMAC-SHA256 of this event's fields and prev_hash.")

    class Meta:
        # The table keeps the name it had when the model lived in byok_keys (moved without a data change).
        db_table = "byok_keys_auditevent"
        ordering = ["-sequence"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="auditevent_target")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label or 'system'} {self.action} {self.target_id}"


class AuditChainHead(models.Model):
    """One row: the last event's sequence and hash. Appending locks it (``select_for_update``), so two
    transactions appending at once take turns instead of forking the chain, and the verifier can tell
    that events were cut off the end."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    sequence = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="auditchainhead_single_row")]

    def __str__(self) -> str:
        return f"audit chain head #{self.sequence}"
