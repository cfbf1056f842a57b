"""Accounting for provider calls: a usage record per attempt, and atomic running totals (so stats
never scan the records)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from byok_keys.models import ProviderKey
from gateway.models import KeySource, UsageRecord, UsageTotal
from groups.models import Organization, User
from providers.chat import Usage


@transaction.atomic
def usage_record_call(
    *,
    user: User,
    provider: str,
    model: str,
    source: str,
    key: ProviderKey | None,
    key_label: str,
    organization: Organization | None,
    usage: Usage | None,
    status: str,
    latency_ms: int,
    token_prefix: str = "",
    ip_address: str | None = None,
) -> UsageRecord:
    """Record one attempt; a successful one also counts on the key and in the running totals.

    Counters are bumped with ``F()`` expressions in the database, so concurrent calls never lose an
    update.
    """
    if key is not None:
        # Lock the key row: a key deleted while its call was running must not turn a served answer
        # into an error (the record keeps key_label; the foreign key becomes empty).
        key = ProviderKey.objects.select_for_update().filter(pk=key.pk).first()
    if organization is not None and not Organization.objects.filter(pk=organization.pk).exists():
        organization = None  # the group was deleted during the call
    record = UsageRecord.objects.create(
        user=user,
        provider_key=key,
        key_label=key_label[:120],
        source=source,
        organization=organization,
        provider=provider,
        model=model[:200],
        prompt_tokens=usage.prompt_tokens if usage else None,
        completion_tokens=usage.completion_tokens if usage else None,
        total_tokens=usage.total_tokens if usage else None,
        status=status[:40],
        latency_ms=max(0, latency_ms),
        token_prefix=token_prefix[:24],
        ip_address=ip_address or None,
    )
    if status != "ok":
        return record
    if key is not None:
        ProviderKey.objects.filter(pk=key.pk).update(usage_count=F("usage_count") + 1, last_used_at=timezone.now())
    _bump_total(user=user, organization=organization, provider=provider, source=source, usage=usage)
    return record


def _bump_total(
    *, user: User, organization: Organization | None, provider: str, source: str, usage: Usage | None
) -> None:
    match = {"user": user, "organization": organization, "provider": provider, "source": source}
    prompt = (usage.prompt_tokens or 0) if usage else 0
    completion = (usage.completion_tokens or 0) if usage else 0
    total = (usage.total_tokens or prompt + completion) if usage else 0
    increments = {
        "calls": F("calls") + 1,
        "prompt_tokens": F("prompt_tokens") + prompt,
        "completion_tokens": F("completion_tokens") + completion,
        "total_tokens": F("total_tokens") + total,
        "updated_at": timezone.now(),
    }
    if UsageTotal.objects.filter(**match).update(**increments):
        return
    try:
        with transaction.atomic():
            UsageTotal.objects.create(
                **match, calls=1, prompt_tokens=prompt, completion_tokens=completion, total_tokens=total
            )
    except IntegrityError:  # another request created the row first: add to it
        UsageTotal.objects.filter(**match).update(**increments)


@dataclass(frozen=True)
class TokenTotals:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0

    def __add__(self, other: TokenTotals) -> TokenTotals:
        return TokenTotals(
            self.calls + other.calls,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.total_tokens + other.total_tokens,
        )


def usage_by_provider(*, user: User) -> dict[str, TokenTotals]:
    """Calls served by the caller's own keys and by group keys on the caller's behalf (not system keys)."""
    rows = (
        UsageTotal.objects.filter(user=user, source__in=[KeySource.USER, KeySource.GROUP])
        .values("provider")
        .annotate(
            calls=Sum("calls"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            total=Sum("total_tokens"),
        )
        .order_by("provider")
    )
    return {
        row["provider"]: TokenTotals(row["calls"] or 0, row["prompt"] or 0, row["completion"] or 0, row["total"] or 0)
        for row in rows
    }


def usage_since(*, user: User, since: datetime) -> TokenTotals:
    """Successful calls on the caller's own and group keys since ``since`` (the usage records, read
    through the (user, created_at) index)."""
    row = UsageRecord.objects.filter(
        user=user, source__in=[KeySource.USER, KeySource.GROUP], status="ok", created_at__gte=since
    ).aggregate(
        calls=Count("id"),
        prompt=Sum("prompt_tokens"),
        completion=Sum("completion_tokens"),
        total=Sum("total_tokens"),
    )
    return TokenTotals(row["calls"] or 0, row["prompt"] or 0, row["completion"] or 0, row["total"] or 0)


@dataclass
class MemberUsage:
    username: str
    calls: int = 0
    total_tokens: int = 0
    by_provider: dict[str, TokenTotals] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupUsage:
    organization: Organization
    total_calls: int
    total_tokens: int
    members: list[MemberUsage]


def group_usage(*, organization: Organization) -> GroupUsage:
    """Per-member use of the group's keys."""
    rows = (
        UsageTotal.objects.filter(organization=organization, source=KeySource.GROUP)
        .select_related("user")
        .order_by("user__username", "provider")
    )
    members: dict[str, MemberUsage] = {}
    for row in rows:
        member = members.setdefault(row.user.username, MemberUsage(username=row.user.username))
        member.calls += row.calls
        member.total_tokens += row.total_tokens
        member.by_provider[row.provider] = TokenTotals(
            row.calls, row.prompt_tokens, row.completion_tokens, row.total_tokens
        )
    return GroupUsage(
        organization=organization,
        total_calls=sum(m.calls for m in members.values()),
        total_tokens=sum(m.total_tokens for m in members.values()),
        members=list(members.values()),
    )
