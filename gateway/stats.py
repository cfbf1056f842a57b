"""``GET /api/byok/stats``: key counts from the vault, usage from the running totals."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q

from byok_keys.models import ProviderKey
from gateway.usage import usage_stats
from groups.models import Membership, User


def key_stats(*, user: User) -> dict[str, Any]:
    """``GET /api/byok/stats``: key counts from the keys, usage from the running totals (constant work
    however many usage records there are)."""
    org_ids = Membership.objects.active().filter(user=user).values("organization_id")
    mine = ProviderKey.objects.filter(user=user).aggregate(n=Count("id"))
    groups = ProviderKey.objects.filter(organization_id__in=org_ids).aggregate(n=Count("id"))
    providers = (
        ProviderKey.objects.filter(Q(user=user) | Q(organization_id__in=org_ids))
        .values_list("provider", flat=True)
        .distinct()
    )
    return {
        "userKeys": mine["n"] or 0,
        "groupKeys": groups["n"] or 0,
        "providers": sorted(set(providers)),
        **usage_stats(user=user),
    }
