"""``GET /api/byok/stats``: key counts from the vault, usage from the ledger's rolled-up totals and its
short tail (``gateway.usage``: work that does not grow with the number of usage records)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

from django.utils import timezone

from byok_keys.models import ProviderKey
from gateway.usage import TokenTotals, user_usage
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
    # Two indexed lookups (the per-owner unique indexes) instead of one OR that scans every key; each
    # gives both the count and the providers (an owner has one key per provider).
    mine = list(ProviderKey.objects.filter(user=user).values_list("provider", flat=True))
    groups = list(ProviderKey.objects.filter(organization_id__in=org_ids).values_list("provider", flat=True))
    usage = user_usage(user=user, since=timezone.now().date().replace(day=1))  # now() is UTC
    return KeyStats(
        user_keys=len(mine),
        group_keys=len(groups),
        providers=sorted({*mine, *groups}),
        by_provider=usage.by_provider,
        this_month=usage.since,
    )
