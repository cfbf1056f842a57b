"""Reads about groups and who may do what in them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q, QuerySet

from common.errors import Forbidden, NotFound
from groups.models import AuditEvent, Membership, Organization, User
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
    return Membership.objects.filter(user=user).select_related("organization", "user").order_by("organization__slug")


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


# ---- the audit log --------------------------------------------------------------------------------

AUDIT_PAGE_MAX = 200


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    next_cursor: str | None  # give it back as ``cursor`` for the next (older) page; None on the last


def audit_events_of_user(*, user: User) -> QuerySet[AuditEvent]:
    """A user's own events: what they did, what happened to their account (sign-ins, failed sign-ins,
    its creation), and everything about the personal keys and API tokens that were theirs, whoever did
    it (platform staff, the scheduled revalidation, a rotation), deleted ones included.

    Which keys and tokens were theirs is read from the log itself (tenancy does not import the vault):
    the ids in the events that created them, whose details name the owner (``owner: user:<name>`` for a
    personal key, ``user: <name>`` for a token)."""
    owned = AuditEvent.objects.filter(
        Q(target_type="provider_key", organization__isnull=True, details__owner=f"user:{user.username}")
        | Q(target_type="api_token", details__user=user.username)
    ).values("target_id")
    return AuditEvent.objects.filter(
        Q(actor=user)
        | Q(target_type="user", target_id=user.username)
        | Q(target_type__in=["provider_key", "api_token"], target_id__in=owned)
    )


def audit_events_of_group(*, organization: Organization) -> QuerySet[AuditEvent]:
    """Everything recorded about a group: its members, roles and keys."""
    return AuditEvent.objects.filter(organization=organization)


def audit_page(
    *,
    user: User,
    group: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    cursor: int | None = None,
    limit: int = 50,
) -> AuditPage:
    """One page of events, newest first: the user's own, or (``group``) a group's for those who may
    see its audit log (a group the caller cannot see is a 404, one they see without the role a 403).

    ``action`` ending with ``.`` is a prefix (``key.``), otherwise exact; ``target`` is a target id;
    ``cursor`` is the previous page's ``next_cursor`` (the chain position of its last event, so pages
    stay put while new events arrive)."""
    if group:
        organization, _ = group_access(user=user, slug=group, need=Cap.VIEW_AUDIT)
        events = audit_events_of_group(organization=organization)
    else:
        events = audit_events_of_user(user=user)
    if action:
        events = events.filter(action__startswith=action) if action.endswith(".") else events.filter(action=action)
    if target:
        events = events.filter(target_id=target)
    if since is not None:
        events = events.filter(created_at__gte=since)
    if cursor is not None:
        events = events.filter(sequence__lt=cursor)
    limit = max(1, min(limit, AUDIT_PAGE_MAX))
    rows = list(events.select_related("organization").order_by("-sequence")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return AuditPage(events=rows, next_cursor=str(rows[-1].sequence) if more else None)


def audit_events_between(
    *, since: datetime, until: datetime | None = None, batch_size: int = 2000
) -> Iterator[AuditEvent]:
    """Every event from ``since`` (inclusive) to ``until`` (exclusive) in chain order, read
    ``batch_size`` at a time so memory stays flat however long the log is."""
    events = AuditEvent.objects.filter(created_at__gte=since).select_related("organization").order_by("sequence")
    if until is not None:
        events = events.filter(created_at__lt=until)
    last = 0
    while True:
        batch = list(events.filter(sequence__gt=last)[:batch_size])
        yield from batch
        if len(batch) < batch_size:
            return
        last = batch[-1].sequence
