"""``GET /api/byok/stats``: key counts from the vault, usage from the running totals (constant work
however many usage records there are)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from django.db.models import Count
from django.utils import timezone

from byok_keys.models import ProviderKey
from gateway.usage import TokenTotals, usage_by_provider, usage_since
from groups.models import Membership, User


@dataclass(frozen=True)
class KeyStats:
    user_keys: int
    group_keys: int
    providers: list[str]
    by_provider: dict[str, TokenTotals]
    this_month: TokenTotals

    @property
    def usage(self) -> TokenTotals:
        return reduce(TokenTotals.__add__, self.by_provider.values(), TokenTotals())


def key_stats(*, user: User) -> KeyStats:
    org_ids = Membership.objects.active().filter(user=user).values("organization_id")
    mine = ProviderKey.objects.filter(user=user).aggregate(n=Count("id"))
    groups = ProviderKey.objects.filter(organization_id__in=org_ids).aggregate(n=Count("id"))
    # Two indexed lookups (the per-owner unique indexes) instead of one OR that scans every key.
    providers = set(ProviderKey.objects.filter(user=user).values_list("provider", flat=True)) | set(
        ProviderKey.objects.filter(organization_id__in=org_ids).values_list("provider", flat=True)
    )
    return KeyStats(
        user_keys=mine["n"] or 0,
        group_keys=groups["n"] or 0,
        providers=sorted(set(providers)),
        by_provider=usage_by_provider(user=user),
        this_month=usage_since(
            user=user, since=timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        ),
    )
