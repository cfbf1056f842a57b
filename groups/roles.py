"""Roles map to capabilities in one table; permission checks ask for a capability, never a role."""

from __future__ import annotations

from enum import StrEnum

from groups.models import Membership


class Cap(StrEnum):
    VIEW = "group.view"
    USE_KEYS = "group.use_keys"
    MANAGE_KEYS = "group.manage_keys"
    MANAGE_MEMBERS = "group.manage_members"
    MANAGE_OWNERS = "group.manage_owners"
    VIEW_USAGE = "group.view_usage"
    VIEW_AUDIT = "group.view_audit"


ROLE_CAPABILITIES: dict[str, frozenset[Cap]] = {
    Membership.Role.OWNER: frozenset(Cap),
    Membership.Role.ADMIN: frozenset(Cap) - {Cap.MANAGE_OWNERS},
    Membership.Role.MEMBER: frozenset({Cap.VIEW, Cap.USE_KEYS}),
}

# Platform staff (staff users holding ``groups.manage_all_groups``, and superusers) manage every
# group; they may not use a group's keys for inference unless they are members. A team
# administrator, who is staff only to reach the admin, does not hold that permission.
STAFF_CAPABILITIES: frozenset[Cap] = frozenset(Cap) - {Cap.USE_KEYS}
MANAGE_ALL_PERMISSION = "groups.manage_all_groups"


def is_platform_staff(user: object) -> bool:
    return bool(
        getattr(user, "is_active", False) and getattr(user, "is_staff", False) and user.has_perm(MANAGE_ALL_PERMISSION)  # type: ignore[attr-defined]
    )


def capabilities_for(role: str | None, *, platform_staff: bool = False) -> frozenset[Cap]:
    caps = ROLE_CAPABILITIES.get(role, frozenset()) if role else frozenset()
    if platform_staff:
        caps = caps | STAFF_CAPABILITIES
    return caps
