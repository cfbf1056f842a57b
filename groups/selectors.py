"""Reads about groups and who may do what in them."""

from __future__ import annotations

from django.db.models import QuerySet

from common.errors import Forbidden, NotFound
from groups.models import Membership, Organization, User
from groups.roles import Cap, capabilities_for, is_platform_staff


def group_access(*, user: User, slug: str, need: Cap = Cap.VIEW) -> tuple[Organization, Membership | None]:
    """The group and the caller's membership, if the caller has ``need`` in it.

    A group the caller cannot see is a 404 (its existence is not revealed); a group the caller sees
    but may not act on is a 403.
    """
    org = Organization.objects.filter(slug=slug).first()
    membership = Membership.objects.active().filter(user=user, organization=org).first() if org is not None else None
    staff = is_platform_staff(user)
    if org is None or (membership is None and not staff):
        raise NotFound(f"Group '{slug}' was not found among your groups.", code="group_not_found")
    caps = capabilities_for(membership.role if membership else None, platform_staff=staff)
    if need not in caps:
        raise Forbidden(
            f"Your role in group '{slug}' ({membership.role if membership else 'none'}) does not allow this; "
            "ask a group owner or admin.",
            code="insufficient_role",
        )
    return org, membership


def groups_for_user(*, user: User) -> QuerySet[Membership]:
    """The user's memberships, pending invitations included."""
    return (
        Membership.objects.filter(user=user).select_related("organization", "user").order_by("organization__slug")
    )


def groups_managed_by(*, user: User) -> QuerySet[Organization]:
    """Groups whose keys and members ``user`` may manage (all of them for platform staff)."""
    if is_platform_staff(user):
        return Organization.objects.all()
    return Organization.objects.filter(
        memberships__user=user,
        memberships__role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
        memberships__accepted_at__isnull=False,
    ).distinct()


def group_of_invitee(*, user: User, slug: str) -> Organization:
    """A group the user belongs to or is invited to (for accepting, declining and leaving)."""
    membership = Membership.objects.select_related("organization").filter(user=user, organization__slug=slug).first()
    if membership is None:
        raise NotFound(f"Group '{slug}' was not found among your groups or invitations.", code="group_not_found")
    return membership.organization
