"""Accounting for provider calls: the usage ledger, and the totals derived from it.

A call writes its usage record, one INSERT and nothing else: no row lock and no counter shared with
other callers, so calls on one shared group key never queue behind each other. The totals are
derived: ``rollup_usage`` adds the records up to a watermark into ``UsageTotal`` and onto the keys
(``ProviderKey.usage_count``/``last_used_at``), and every read adds the successful records past the
watermark (the tail), past the watermark read in the same statement as the totals (or, for keys,
each key's own, read with its counts). So what a reader sees is exact whether the roll-up ran a
moment ago, is running, or has not run for a while.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    BigIntegerField,
    Count,
    F,
    Max,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Greatest, Now, TruncDate
from django.utils import timezone

from byok_keys.models import ProviderKey
from byok_keys.usage import KeyUsage
from gateway.models import KeySource, UsageRecord, UsageRollup, UsageTotal
from groups.models import Organization, User
from providers.chat import Usage

_PROMPT = Coalesce("prompt_tokens", 0)
_COMPLETION = Coalesce("completion_tokens", 0)
# A provider that reports no total is counted as prompt + completion.
_TOTAL = Coalesce("total_tokens", _PROMPT + _COMPLETION)
# A roll-up retries a batch this often when a user or a group is deleted under it (see rollup_usage).
_ROLLUP_ATTEMPTS = 3


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
    """Record one attempt in the ledger: one INSERT, in its own (autocommit) transaction.

    A key or a group deleted while its call was running must not turn a served answer into an error:
    the record then keeps ``key_label`` and loses the foreign key. That costs no query in the common
    case: the insert's own foreign-key check finds it out, and only then are the key and the group
    looked up. Inside a caller's transaction the foreign keys are checked at its commit (Django
    declares them deferred), too late to catch here, so they are looked up first instead.
    """
    record = UsageRecord(
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
    if connection.in_atomic_block:
        _forget_deleted(record)
        record.save(force_insert=True)
        return record
    try:
        record.save(force_insert=True)
    except IntegrityError:
        _forget_deleted(record)
        record.save(force_insert=True)
    return record


def _forget_deleted(record: UsageRecord) -> None:
    """Drop the key and the group that no longer exist from ``record``."""
    if record.provider_key_id is not None and not ProviderKey.objects.filter(pk=record.provider_key_id).exists():
        record.provider_key = None
    if record.organization_id is not None and not Organization.objects.filter(pk=record.organization_id).exists():
        record.organization = None


# ---- The roll-up ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rollup:
    """What one ``rollup_usage`` run did."""

    calls: int  # successful calls added to the totals
    watermark: int  # the last record rolled up now
    busy: bool = False  # another process was rolling up: this run did nothing


def rollup_usage(
    *, lag: dt.timedelta | None = None, batch_size: int | None = None, max_batches: int | None = None
) -> Rollup:
    """Add the usage records past the watermark into the totals and onto the keys, and move the
    watermark past them: batch by batch, each batch in one transaction, until the tail is rolled up
    (or after ``max_batches``). Never waits: a roll-up already running elsewhere holds the
    watermark's row lock, and this one then returns at once (``busy``).

    Records newer than ``lag`` (``BYOK_USAGE_ROLLUP_LAG`` seconds) stay in the tail. Record ids come
    from a sequence when a record is inserted, but become visible only when its insert commits, so a
    later id can be visible before an earlier one; a watermark moved past an id whose insert had not
    committed yet would never count that record. Every insert commits within moments of the time it
    is stamped with (the database's clock, like the lag's), so the ids older than the lag are settled.
    """
    lag = dt.timedelta(seconds=settings.BYOK_USAGE_ROLLUP_LAG) if lag is None else lag
    batch_size = max(1, batch_size or settings.BYOK_USAGE_ROLLUP_BATCH)
    UsageRollup.objects.get_or_create(pk=1)  # the migration creates it; an emptied database has none
    calls, batches, failures = 0, 0, 0
    while max_batches is None or batches < max_batches:
        try:
            with transaction.atomic():
                state = UsageRollup.objects.select_for_update(skip_locked=True).filter(pk=1).first()
                if state is None:
                    return Rollup(calls=calls, watermark=_current_watermark(), busy=True)
                upper = _batch_end(after=state.watermark, lag=lag, batch_size=batch_size)
                if upper is None:
                    return Rollup(calls=calls, watermark=state.watermark)
                calls += _roll_up(after=state.watermark, upper=upper)
                state.watermark, state.rolled_up_at = upper, timezone.now()
                state.save(update_fields=["watermark", "rolled_up_at"])
        except IntegrityError:
            # A user or a group was deleted while this batch was read (its records deleted or moved
            # off the group), so a total was written for it: the batch is read again.
            failures += 1
            if failures >= _ROLLUP_ATTEMPTS:
                raise
            continue
        batches += 1
    return Rollup(calls=calls, watermark=_current_watermark())


def _current_watermark() -> int:
    return UsageRollup.objects.filter(pk=1).values_list("watermark", flat=True).first() or 0


def _batch_end(*, after: int, lag: dt.timedelta, batch_size: int) -> int | None:
    """The id that ends the next batch: at most ``batch_size`` records after ``after``, and no record
    newer than ``lag`` after it. None when there is nothing to roll up."""
    ids = UsageRecord.objects.filter(id__gt=after).order_by("id").values_list("id", flat=True)
    settled = UsageRecord.objects.filter(id__gt=after, created_at__lte=Now() - lag)
    if last_of_batch := ids[batch_size - 1 : batch_size].first():
        settled = settled.filter(id__lte=last_of_batch)
    return settled.aggregate(upper=Max("id"))["upper"]


def _roll_up(*, after: int, upper: int) -> int:
    """Add the successful records with ids in (after, upper] into the totals and onto the keys;
    returns how many calls that was. Only a roll-up writes totals and it holds the watermark's lock,
    so existing rows are looked up without a lock (the increments themselves are ``F()``)."""
    batch = UsageRecord.objects.filter(id__gt=after, id__lte=upper, status="ok").order_by()
    rows = list(
        batch.annotate(utc_day=TruncDate("created_at", tzinfo=dt.UTC))
        .values("user_id", "organization_id", "provider", "source", "utc_day")
        .annotate(calls=Count("id"), prompt=Sum(_PROMPT), completion=Sum(_COMPLETION), total=Sum(_TOTAL))
    )
    if not rows:
        return 0
    existing = {
        (t.user_id, t.organization_id, t.provider, t.source, t.day): t
        for t in UsageTotal.objects.filter(
            user_id__in={row["user_id"] for row in rows}, day__in={row["utc_day"] for row in rows}
        )
    }
    now = timezone.now()
    changed, created = [], []
    for row in rows:
        total = existing.get((row["user_id"], row["organization_id"], row["provider"], row["source"], row["utc_day"]))
        if total is None:
            created.append(
                UsageTotal(
                    user_id=row["user_id"],
                    organization_id=row["organization_id"],
                    provider=row["provider"],
                    source=row["source"],
                    day=row["utc_day"],
                    calls=row["calls"],
                    prompt_tokens=row["prompt"],
                    completion_tokens=row["completion"],
                    total_tokens=row["total"],
                )
            )
            continue
        total.calls = F("calls") + row["calls"]
        total.prompt_tokens = F("prompt_tokens") + row["prompt"]
        total.completion_tokens = F("completion_tokens") + row["completion"]
        total.total_tokens = F("total_tokens") + row["total"]
        total.updated_at = now
        changed.append(total)
    UsageTotal.objects.bulk_update(
        changed, ["calls", "prompt_tokens", "completion_tokens", "total_tokens", "updated_at"], batch_size=500
    )
    UsageTotal.objects.bulk_create(created, batch_size=500)
    keys = []
    # In key order, so two writers that lock several keys take them in the same order.
    for row in (
        batch.filter(provider_key__isnull=False)
        .values("provider_key_id")
        .annotate(calls=Count("id"), last=Max("created_at"))
        .order_by("provider_key_id")
    ):
        key = ProviderKey(pk=row["provider_key_id"], usage_rolled_up_to=upper)
        key.usage_count = F("usage_count") + row["calls"]  # type: ignore[assignment]
        last = Value(row["last"])
        key.last_used_at = Greatest(Coalesce(F("last_used_at"), last), last)  # type: ignore[assignment]
        keys.append(key)
    ProviderKey.objects.bulk_update(keys, ["usage_count", "last_used_at", "usage_rolled_up_to"], batch_size=500)
    return sum(row["calls"] for row in rows)


def _roll_up_if_long(tail_calls: int) -> None:
    """A read that just added up a long tail rolls up one batch (unless a roll-up is running), so
    reads stay quick when the scheduled roll-up is late or missing."""
    if tail_calls > settings.BYOK_USAGE_ROLLUP_TAIL:
        rollup_usage(max_batches=1)


# ---- Reads: rolled-up totals + the tail ---------------------------------------------------------


def _watermark() -> Coalesce:
    return Coalesce(
        Subquery(UsageRollup.objects.filter(pk=1).values("watermark")[:1]), 0, output_field=BigIntegerField()
    )


def key_usage_read(keys: Sequence[ProviderKey]) -> dict[int, KeyUsage]:
    """Each key's use: what was rolled up onto it (its loaded fields) plus its tail, in one query for
    all the keys. The vault reads keys' use through this (``byok_keys.usage``), installed at start-up
    by ``GatewayConfig.ready``.

    A key's tail starts after its own watermark (``usage_rolled_up_to``), which a roll-up moves in the
    same update as its counts, so the loaded fields and this query never count a record twice or miss
    one, whatever roll-up commits in between. Each key's bound is a plain value: the planner sees a
    short range of the (key, id) index per key, however long the ledger."""
    if not keys:
        return {}
    after = Q()
    for key in keys:
        after |= Q(provider_key_id=key.pk, id__gt=key.usage_rolled_up_to)
    tails = {
        row["provider_key_id"]: row
        for row in UsageRecord.objects.filter(after, status="ok")
        .order_by()
        .values("provider_key_id")
        .annotate(calls=Count("id"), last=Max("created_at"))
    }
    usage = {}
    for key in keys:
        tail = tails.get(key.pk)
        if tail is None:
            usage[key.pk] = KeyUsage(key.usage_count, key.last_used_at)
        else:
            last = max(filter(None, (key.last_used_at, tail["last"])))
            usage[key.pk] = KeyUsage(key.usage_count + tail["calls"], last)
    return usage


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


def _rolled_and_tail(
    totals: QuerySet[UsageTotal], records: QuerySet[UsageRecord], *group: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The sums of ``totals`` and of the successful ``records`` not rolled up yet, per ``group``: exact
    together, in two statements. The first reads the totals with the watermark they include (one
    snapshot), the second the records past that watermark, given as a plain value so the planner sees
    how short that range is. A roll-up that commits in between changes neither: what it rolls up is
    past that watermark, counted once. With no totals, nothing of theirs was rolled up: every record is
    in the tail."""
    rolled = list(
        totals.annotate(watermark=_watermark())
        .values(*group, "watermark")
        .annotate(
            calls=Sum("calls"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            total=Sum("total_tokens"),
        )
    )
    watermark = rolled[0]["watermark"] if rolled else 0
    tail = list(
        records.filter(status="ok", id__gt=watermark)
        .order_by()
        .values(*group)
        .annotate(calls=Count("id"), prompt=Sum(_PROMPT), completion=Sum(_COMPLETION), total=Sum(_TOTAL))
    )
    _roll_up_if_long(sum(row["calls"] for row in tail))
    return rolled, tail


def _totals(row: dict[str, Any]) -> TokenTotals:
    return TokenTotals(row["calls"] or 0, row["prompt"] or 0, row["completion"] or 0, row["total"] or 0)


@dataclass(frozen=True)
class UserUsage:
    """A user's calls on their own keys and on group keys (not on system keys)."""

    by_provider: dict[str, TokenTotals]
    since: TokenTotals  # since the start of the day asked for


def user_usage(*, user: User, since: dt.date) -> UserUsage:
    """The caller's calls served by their own keys and by group keys on their behalf, per provider and
    since the start of the UTC day ``since``."""
    sources = [KeySource.USER, KeySource.GROUP]
    start = dt.datetime.combine(since, dt.time.min, tzinfo=dt.UTC)
    rolled, tail = _rolled_and_tail(
        UsageTotal.objects.filter(user=user, source__in=sources).annotate(recent=Q(day__gte=since)),
        UsageRecord.objects.filter(user=user, source__in=sources).annotate(recent=Q(created_at__gte=start)),
        "provider",
        "recent",
    )
    by_provider: dict[str, TokenTotals] = {}
    recent = TokenTotals()
    for row in [*rolled, *tail]:
        totals = _totals(row)
        by_provider[row["provider"]] = by_provider.get(row["provider"], TokenTotals()) + totals
        if row["recent"]:
            recent += totals
    return UserUsage(by_provider=dict(sorted(by_provider.items())), since=recent)


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
    rolled, tail = _rolled_and_tail(
        UsageTotal.objects.filter(organization=organization, source=KeySource.GROUP),
        UsageRecord.objects.filter(organization=organization, source=KeySource.GROUP),
        "user__username",
        "provider",
    )
    members: dict[str, MemberUsage] = {}
    for row in [*rolled, *tail]:
        totals = _totals(row)
        member = members.setdefault(row["user__username"], MemberUsage(username=row["user__username"]))
        member.calls += totals.calls
        member.total_tokens += totals.total_tokens
        member.by_provider[row["provider"]] = member.by_provider.get(row["provider"], TokenTotals()) + totals
    ordered = [members[name] for name in sorted(members)]
    for member in ordered:
        member.by_provider = dict(sorted(member.by_provider.items()))
    return GroupUsage(
        organization=organization,
        total_calls=sum(m.calls for m in ordered),
        total_tokens=sum(m.total_tokens for m in ordered),
        members=ordered,
    )
