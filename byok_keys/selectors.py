"""Reads about keys. Never decrypts: metadata only."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from byok_keys.models import ProviderKey
from common.errors import NotFound
from groups.models import Membership, Organization, User
from providers.registry import all_adapter_classes


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def key_metadata(key: ProviderKey, allowed: list[str] | None = None) -> dict[str, Any]:
    """The public shape of a key; ``allowed`` lists a group key's allowed usernames."""
    data: dict[str, Any] = {
        "keyId": key.key_id,
        "provider": key.provider,
        "name": key.name,
        "description": key.description,
        "last4": key.last4,
        "status": key.status,
        "statusReason": key.status_reason,
        "createdAt": _iso(key.created_at),
        "updatedAt": _iso(key.updated_at),
        "lastUsedAt": _iso(key.last_used_at),
        "lastValidatedAt": _iso(key.last_validated_at),
        "usageCount": key.usage_count,
    }
    if key.organization is not None:
        data["groupId"] = key.organization.slug
        data["allowedUsers"] = "all" if key.allow_all_members else sorted(allowed or [])
    return data


def group_key_allows(key: ProviderKey, user: User, allowed: list[str] | None = None) -> bool:
    """Whether ``user`` (a member) may use group key ``key``."""
    if key.allow_all_members:
        return True
    if allowed is None:
        allowed = allowed_usernames(key_ids=[key.pk]).get(key.pk, [])
    return user.username in allowed


def allowed_usernames(
    *, key_ids: list[int] | None = None, org_ids: list[int] | None = None, member: User | None = None
) -> dict[int, list[str]]:
    """Key pk -> allowed usernames, in one query whatever the number of keys (never N+1)."""
    through = ProviderKey.allowed_users.through
    rows = through.objects.all()
    if key_ids is not None:
        rows = rows.filter(providerkey_id__in=key_ids)
    if org_ids is not None:
        rows = rows.filter(providerkey__organization_id__in=org_ids)
    if member is not None:
        rows = rows.filter(
            providerkey__organization__memberships__user=member,
            providerkey__organization__memberships__accepted_at__isnull=False,
        )
    result: dict[int, list[str]] = {}
    for key_pk, username in rows.values_list("providerkey_id", "user__username"):
        result.setdefault(key_pk, []).append(username)
    return result


def group_keys_queryset() -> QuerySet[ProviderKey]:
    return ProviderKey.objects.select_related("organization")


def keys_overview(*, user: User) -> dict[str, Any]:
    """Everything ``GET /api/byok/keys`` shows, in a constant number of queries."""
    memberships = list(
        Membership.objects.active().filter(user=user).select_related("organization").order_by("organization__slug")
    )
    user_keys = list(ProviderKey.objects.filter(user=user).order_by("provider"))
    # Filtered through the membership join (not a list of ids), so the query count is the same
    # for a user with no groups as for a user with many.
    group_keys = list(
        group_keys_queryset()
        .filter(organization__memberships__user=user, organization__memberships__accepted_at__isnull=False)
        .order_by("organization__slug", "provider")
    )
    default_group = next((m.organization for m in memberships if m.organization_id == user.default_group_id), None)

    allowed = allowed_usernames(member=user)
    user_providers = {k.provider for k in user_keys}
    usable_group_providers = {k.provider for k in group_keys if group_key_allows(k, user, allowed.get(k.pk, []))}
    providers = [
        {
            "provider": cls.spec.id,
            "name": cls.spec.name,
            "hasUserKey": cls.spec.id in user_providers,
            "hasGroupKey": cls.spec.id in usable_group_providers,
        }
        for cls in all_adapter_classes()
    ]
    group_key_dicts = []
    for key in group_keys:
        data = key_metadata(key, allowed.get(key.pk))
        data["usableByMe"] = group_key_allows(key, user, allowed.get(key.pk, []))
        group_key_dicts.append(data)
    return {
        "userId": user.username,
        "groupId": default_group.slug if default_group else None,
        "groups": [m.organization.slug for m in memberships],
        "providers": providers,
        "keys": [key_metadata(k) for k in user_keys],
        "groupKeys": group_key_dicts,
    }


def user_key_get(*, user: User, provider: str) -> ProviderKey:
    key = ProviderKey.objects.filter(user=user, provider=provider).first()
    if key is None:
        raise NotFound(f"You have no {provider} key.", code="key_not_found")
    return key


def group_key_get(*, organization: Organization, provider: str) -> ProviderKey:
    key = group_keys_queryset().filter(organization=organization, provider=provider).first()
    if key is None:
        raise NotFound(f"Group '{organization.slug}' has no {provider} key.", code="key_not_found")
    return key


def group_detail(*, organization: Organization) -> dict[str, Any]:
    members = Membership.objects.filter(organization=organization).select_related("user").order_by("user__username")

    keys = group_keys_queryset().filter(organization=organization)
    allowed = allowed_usernames(org_ids=[organization.pk])
    return {
        "id": organization.slug,
        "name": organization.name,
        "createdAt": _iso(organization.created_at),
        "members": [
            {
                "userId": m.user.username,
                "role": m.role,
                "status": "active" if m.is_active else "invited",
                "joinedAt": _iso(m.accepted_at),
            }
            for m in members
        ],
        "keys": [key_metadata(k, allowed.get(k.pk)) for k in keys],
    }
