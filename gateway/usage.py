"""Accounting for provider calls: a usage record per attempt, and atomic running totals (so stats
never scan the records)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
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


def usage_stats(*, user: User) -> dict[str, Any]:
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
    by_provider = {
        row["provider"]: {
            "calls": row["calls"] or 0,
            "promptTokens": row["prompt"] or 0,
            "completionTokens": row["completion"] or 0,
            "totalTokens": row["total"] or 0,
        }
        for row in rows
    }
    return {
        "totalUsage": sum(p["calls"] for p in by_provider.values()),
        "tokens": {
            "promptTokens": sum(p["promptTokens"] for p in by_provider.values()),
            "completionTokens": sum(p["completionTokens"] for p in by_provider.values()),
            "totalTokens": sum(p["totalTokens"] for p in by_provider.values()),
        },
        "byProvider": by_provider,
    }


def group_usage(*, organization: Organization) -> dict[str, Any]:
    """Per-member use of the group's keys."""
    rows = (
        UsageTotal.objects.filter(organization=organization, source=KeySource.GROUP)
        .select_related("user")
        .order_by("user__username", "provider")
    )
    members: dict[str, dict[str, Any]] = {}
    for row in rows:
        member = members.setdefault(
            row.user.username, {"userId": row.user.username, "calls": 0, "totalTokens": 0, "byProvider": {}}
        )
        member["calls"] += row.calls
        member["totalTokens"] += row.total_tokens
        member["byProvider"][row.provider] = {
            "calls": row.calls,
            "promptTokens": row.prompt_tokens,
            "completionTokens": row.completion_tokens,
            "totalTokens": row.total_tokens,
        }
    totals = UsageTotal.objects.filter(Q(organization=organization) & Q(source=KeySource.GROUP)).aggregate(
        calls=Sum("calls"), tokens=Sum("total_tokens")
    )
    return {
        "groupId": organization.slug,
        "totalCalls": totals["calls"] or 0,
        "totalTokens": totals["tokens"] or 0,
        "members": list(members.values()),
    }
