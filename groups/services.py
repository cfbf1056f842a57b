"""Writes for groups and memberships. Each change writes an audit event in the same transaction."""

from __future__ import annotations

import re

from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from common.errors import Conflict, Forbidden, InvalidInput, NotFound
from common.text import check_display_text
from groups.audit import audit_record
from groups.models import Membership, Organization, User
from groups.roles import Cap, capabilities_for, is_platform_staff
from groups.signals import membership_ended

_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
ADD_USER_PERMISSION = "groups.add_user"


@transaction.atomic
def user_onboard(*, actor: User | None, username: str, email: str = "", staff: bool = False) -> tuple[User, str]:
    """Create an active user without a password; returns the user and the path of a set-password link.

    The link is Django's password-reset confirmation (``/accounts/reset/<uidb64>/<token>/``): its token is
    derived from the password hash, so it works once (setting the password changes the hash) and expires
    after ``PASSWORD_RESET_TIMEOUT``. Nobody but the new user ever knows the password. ``actor`` None is
    the operator at the command line.
    """
    if actor is not None and not (actor.is_active and actor.is_staff and actor.has_perm(ADD_USER_PERMISSION)):
        raise Forbidden("Only staff allowed to add users can create users.", code="insufficient_role")
    username = (username or "").strip()
    try:
        User.username_validator(username)
    except ValidationError:
        username = ""
    if not username or len(username) > 150:
        raise InvalidInput(
            "A username is 1-150 characters: letters, digits and @ . + - _ only.", code="invalid_username"
        )
    email = User.objects.normalize_email((email or "").strip())
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise InvalidInput(f"'{email}' is not a valid email address.", code="invalid_email") from None
    taken = Conflict(f"A user named '{username}' already exists; choose another username.", code="user_exists")
    if User.objects.filter(username=username).exists():
        raise taken
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=email, password=None, is_staff=staff)
    except IntegrityError:  # created by a concurrent request since the check above
        raise taken from None
    audit_record(
        actor=actor,
        action="user.created",
        target_type="user",
        target_id=username,
        details={"staff": staff, "email": email},
    )
    link = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    return user, link


@transaction.atomic
def group_create(*, actor: User, slug: str, name: str) -> Organization:
    slug = (slug or "").strip()
    if not _SLUG_RE.match(slug):
        raise InvalidInput(
            "Group id must be 2-63 characters: lowercase letters, digits, '-' or '_', starting with a letter or digit.",
            code="invalid_group_id",
        )
    name = check_display_text((name or "").strip() or slug, field="name")
    if len(name) > 200:
        raise InvalidInput("Group name must be at most 200 characters.", code="invalid_group_name")
    try:
        with transaction.atomic():
            org = Organization.objects.create(slug=slug, name=name)
    except IntegrityError:
        raise Conflict(f"A group with id '{slug}' already exists; choose another id.", code="group_exists") from None
    _membership_create(actor=actor, org=org, user=actor, role=Membership.Role.OWNER)
    audit_record(actor=actor, action="group.created", target_type="group", target_id=slug, organization=org)
    return org


@transaction.atomic
def group_rename(*, actor: User, org: Organization, name: str) -> Organization:
    name = check_display_text((name or "").strip(), field="name")
    if not name or len(name) > 200:
        raise InvalidInput("Group name must be 1-200 characters.", code="invalid_group_name")
    # Read the stored name: the admin hands over an instance its form has already changed.
    previous = Organization.objects.filter(pk=org.pk).values_list("name", flat=True).first()
    org.name = name
    org.save(update_fields=["name"])
    if previous != name:
        audit_record(
            actor=actor,
            action="group.renamed",
            target_type="group",
            target_id=org.slug,
            organization=org,
            details={"from": previous, "to": name},
        )
    return org


def _lock_group(org: Organization) -> None:
    """Serialise every membership change of one group on its row: two requests adding the same user,
    or two owners removing each other, then run one after the other (no unique violation, no
    deadlock, never zero owners) instead of failing with a 500."""
    Organization.objects.select_for_update().filter(pk=org.pk).first()


def _membership_create(*, actor: User, org: Organization, user: User, role: str) -> Membership:
    """Joining yourself (creating a group) or being added by platform staff is immediate; being added
    by anyone else is an invitation the user accepts with ``membership_accept``."""
    immediate = actor.pk == user.pk or is_platform_staff(actor)
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                user=user,
                organization=org,
                role=role,
                invited_by=actor,
                accepted_at=timezone.now() if immediate else None,
            )
    except IntegrityError:
        raise Conflict(
            f"'{user.username}' was added to '{org.slug}' by another request at the same time.",
            code="concurrent_update",
        ) from None
    if immediate:
        _default_group_if_none(user, org)
    audit_record(
        actor=actor,
        action="membership.added" if immediate else "membership.invited",
        target_type="membership",
        target_id=f"{org.slug}/{user.username}",
        organization=org,
        details={"role": role},
    )
    return membership


def _default_group_if_none(user: User, org: Organization) -> None:
    if user.default_group_id is None:
        user.default_group = org
        user.save(update_fields=["default_group"])


@transaction.atomic
def membership_accept(*, user: User, org: Organization) -> Membership:
    """Accept a pending invitation to ``org``."""
    _lock_group(org)
    membership = Membership.objects.select_for_update().filter(user=user, organization=org).first()
    if membership is None:
        raise NotFound(f"You have no invitation to group '{org.slug}'.", code="invitation_not_found")
    if membership.accepted_at is None:
        membership.accepted_at = timezone.now()
        membership.save(update_fields=["accepted_at"])
        _default_group_if_none(user, org)
        audit_record(
            actor=user,
            action="membership.accepted",
            target_type="membership",
            target_id=f"{org.slug}/{user.username}",
            organization=org,
            details={"role": membership.role},
        )
    return membership


def _check_role_change_allowed(*, actor: User, org: Organization, role: str, current: str | None) -> None:
    """Only owners (and platform staff) may create or touch owners."""
    actor_membership = Membership.objects.active().filter(user=actor, organization=org).first()
    caps = capabilities_for(
        actor_membership.role if actor_membership else None, platform_staff=is_platform_staff(actor)
    )
    if actor_membership is None and not is_platform_staff(actor):
        # Callers checked the actor's access before this transaction: it went away meanwhile (another
        # request removed them).
        raise Conflict(
            f"Your membership of '{org.slug}' changed while this request ran; reload and try again.",
            code="concurrent_update",
        )
    if Cap.MANAGE_MEMBERS not in caps:
        raise Forbidden("Only group owners and admins can manage members.", code="insufficient_role")
    if Membership.Role.OWNER in (role, current) and Cap.MANAGE_OWNERS not in caps:
        raise Forbidden("Only group owners can add, change or remove owners.", code="insufficient_role")


@transaction.atomic
def membership_set(
    *, actor: User, org: Organization, username: str, role: str | None = None
) -> tuple[Membership, bool]:
    """Add ``username`` to ``org`` (default role member) or change the role. Returns (membership, created)."""
    role = role or Membership.Role.MEMBER
    if role not in Membership.Role.values:
        raise InvalidInput(
            f"Unknown role '{role}'; use one of: {', '.join(Membership.Role.values)}.", code="invalid_role"
        )
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        raise NotFound(f"No active user named '{username}'.", code="user_not_found")
    _lock_group(org)
    existing = Membership.objects.select_for_update().filter(user=user, organization=org).first()
    if existing is None and user.pk == actor.pk:
        # Platform staff manage every group, but use a group's keys only when its owner or an admin
        # let them in: nobody adds themselves to a group.
        raise Forbidden(
            f"You cannot add yourself to '{org.slug}'; ask one of its owners or admins to invite you.",
            code="self_join_refused",
        )
    _check_role_change_allowed(actor=actor, org=org, role=role, current=existing.role if existing else None)
    if existing is None:
        return _membership_create(actor=actor, org=org, user=user, role=role), True
    if existing.role != role:
        if existing.role == Membership.Role.OWNER:
            _ensure_another_owner(org=org, leaving=user)
        previous = existing.role
        existing.role = role
        existing.save(update_fields=["role"])
        audit_record(
            actor=actor,
            action="membership.role_changed",
            target_type="membership",
            target_id=f"{org.slug}/{user.username}",
            organization=org,
            details={"from": previous, "to": role},
        )
    return existing, False


def _ensure_another_owner(*, org: Organization, leaving: User) -> None:
    # Lock the group's owner rows so two concurrent removals cannot both pass this check.
    owners = list(
        Membership.objects.active()
        .select_for_update()
        .filter(organization=org, role=Membership.Role.OWNER)
        .values_list("user_id", flat=True)
    )
    if owners == [leaving.pk]:
        raise Conflict(
            f"'{leaving.username}' is the last owner of '{org.slug}'; make another member owner first.",
            code="last_owner",
        )


@transaction.atomic
def membership_remove(*, actor: User, org: Organization, username: str) -> None:
    """Remove a member (owners/admins), or leave / decline an invitation (the member themself)."""
    _lock_group(org)
    membership = (
        Membership.objects.select_for_update()
        .select_related("user")
        .filter(organization=org, user__username=username)
        .first()
    )
    if membership is None:
        raise NotFound(f"'{username}' is not a member of '{org.slug}'.", code="member_not_found")
    if membership.user_id != actor.pk:
        _check_role_change_allowed(actor=actor, org=org, role=membership.role, current=membership.role)
    user = membership.user
    if membership.role == Membership.Role.OWNER and membership.is_active:
        _ensure_another_owner(org=org, leaving=user)
    membership.delete()
    membership_ended.send(sender=Organization, organization=org, user=user)
    if user.default_group_id == org.pk:
        next_membership = Membership.objects.active().filter(user=user).order_by("organization__slug").first()
        user.default_group = next_membership.organization if next_membership else None
        user.save(update_fields=["default_group"])
    audit_record(
        actor=actor,
        action="membership.left" if actor.pk == user.pk else "membership.removed",
        target_type="membership",
        target_id=f"{org.slug}/{username}",
        organization=org,
        details={"role": membership.role},
    )
