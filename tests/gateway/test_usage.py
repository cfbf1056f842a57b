"""Usage accounting (``gateway.usage``): a call writes one usage record and nothing else, even when the
key or the group it was made with disappears while the call is running; totals, keys' counts and
last-used times are rolled up from the records and are exact on every read, before, during and after
a roll-up."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, connections
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.timezone import localtime
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from gateway.models import KeySource, UsageRecord, UsageRollup, UsageTotal
from gateway.usage import group_usage, rollup_usage, usage_record_call, user_usage
from groups.models import Organization, User
from providers.chat import Usage
from tests.factories import join_group, make_client, shown_key, store_group_key, store_user_key

NO_LAG = timedelta(0)  # every record made so far is rolled up
TOKENS = Usage(3, 4, 7)


def call(user: User, key: ProviderKey | None, *, status: str = "ok", usage: Usage | None = TOKENS) -> UsageRecord:
    """One call recorded as the gateway records it: on ``key`` (a group key if it has a group; a
    system key if None)."""
    group = key.organization if key is not None else None
    return usage_record_call(
        user=user,
        provider="openai",
        model="gpt-4o-mini",
        source=KeySource.SYSTEM if key is None else KeySource.GROUP if group else KeySource.USER,
        key=key,
        key_label=key.key_id if key is not None else "OPENAI_API_KEY",
        organization=group,
        usage=usage,
        status=status,
        latency_ms=5,
    )


def stats(client: APIClient) -> dict[str, Any]:
    return client.get("/api/byok/stats").json()["stats"]  # type: ignore[no-any-return]


def shown_usage(client: APIClient) -> dict[str, tuple[int, str | None]]:
    """keyId -> (usageCount, lastUsedAt) as ``GET /api/byok/keys`` shows them."""
    body = client.get("/api/byok/keys").json()
    return {key["keyId"]: (key["usageCount"], key["lastUsedAt"]) for key in [*body["keys"], *body["groupKeys"]]}


def iso(record: UsageRecord) -> str:
    return record.created_at.isoformat()


# ---- The call path ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # autocommit, as the gateway runs
@pytest.mark.parametrize("key_kind", ["own", "group"])
def test_a_call_writes_one_insert_and_nothing_else(key_kind: str, owner: User, group: Organization) -> None:
    key = store_user_key(owner) if key_kind == "own" else store_group_key(owner, group)
    with CaptureQueriesContext(connection) as queries:
        call(owner, key)
    assert [q["sql"].split(" INTO ")[0] for q in queries.captured_queries] == ["INSERT"]
    assert '"byok_keys_usagerecord"' in queries.captured_queries[0]["sql"]


@pytest.mark.django_db(transaction=True)
def test_a_key_deleted_during_the_call_still_gets_its_record(owner: User, group: Organization) -> None:
    own, shared = store_user_key(owner), store_group_key(owner, group)
    ProviderKey.objects.filter(pk__in=[own.pk, shared.pk]).delete()
    mine, ours = call(owner, own), call(owner, shared)
    assert (mine.provider_key, mine.key_label) == (None, own.key_id)
    # The group is still there: the record still counts for it.
    assert (ours.provider_key, ours.organization, ours.key_label) == (None, group, shared.key_id)
    assert UsageRecord.objects.filter(pk__in=[mine.pk, ours.pk], provider_key=None).count() == 2
    assert group_usage(organization=group).total_calls == 1


@pytest.mark.django_db(transaction=True)
def test_a_group_deleted_during_the_call_still_gets_its_record(owner: User, group: Organization) -> None:
    key = store_group_key(owner, group)
    Organization.objects.filter(pk=group.pk).delete()
    record = call(owner, key)
    assert (record.provider_key, record.organization, record.key_label) == (None, None, key.key_id)
    assert UsageRecord.objects.get(pk=record.pk).source == KeySource.GROUP


def test_inside_a_transaction_a_deleted_key_is_found_before_the_insert(owner: User, group: Organization) -> None:
    """Foreign keys are checked at the transaction's commit there, too late to catch at the insert."""
    key = store_user_key(owner)
    ProviderKey.objects.filter(pk=key.pk).delete()
    record = call(owner, key)
    assert record.provider_key is None
    assert record.key_label == key.key_id


def test_inside_a_transaction_a_deleted_group_is_found_before_the_insert(owner: User, group: Organization) -> None:
    key = store_group_key(owner, group)
    Organization.objects.filter(pk=group.pk).delete()
    record = call(owner, key)
    assert record.organization is None and record.provider_key is None


# ---- Reads: exact before and after a roll-up ------------------------------------------------


def test_totals_counts_and_last_used_are_exact_before_and_after_a_rollup(
    owner: User, member: User, group: Organization
) -> None:
    own, shared = store_user_key(owner), store_group_key(owner, group)
    api, member_api = make_client(owner), make_client(member)
    call(owner, own)
    call(owner, own, usage=Usage(10, None, None))  # no total from the provider: prompt + completion
    call(owner, own, status="upstream_rate_limited")  # a failed attempt counts nowhere
    call(member, shared, usage=Usage(1, 1, 2))
    last_own, last_shared = call(owner, own, usage=None), call(member, shared)
    call(owner, None)  # a system key: not the caller's BYOK usage

    def check() -> None:
        mine = stats(api)
        assert mine["totalUsage"] == 3
        assert mine["tokens"] == {"promptTokens": 13, "completionTokens": 4, "totalTokens": 17}
        assert mine["thisMonth"] == {"calls": 3, "promptTokens": 13, "completionTokens": 4, "totalTokens": 17}
        assert stats(member_api)["byProvider"]["openai"] == {
            "calls": 2,
            "promptTokens": 4,
            "completionTokens": 5,
            "totalTokens": 9,
        }
        assert shown_usage(api) == {own.key_id: (3, iso(last_own)), shared.key_id: (2, iso(last_shared))}
        usage = group_usage(organization=group)
        assert (usage.total_calls, usage.total_tokens) == (2, 9)
        assert [(m.username, m.calls) for m in usage.members] == [("mia", 2)]

    check()
    assert UsageTotal.objects.count() == 0 and ProviderKey.objects.get(pk=own.pk).usage_count == 0
    result = rollup_usage(lag=NO_LAG)
    assert (result.calls, result.watermark, result.busy) == (6, UsageRecord.objects.latest("id").pk, False)
    rolled_own = ProviderKey.objects.get(pk=own.pk)  # now on the key itself, and how far
    assert (rolled_own.usage_count, rolled_own.usage_rolled_up_to) == (3, result.watermark)
    assert sum(UsageTotal.objects.values_list("calls", flat=True)) == 6
    check()
    # Part rolled up, part in the tail.
    later = call(owner, own)
    assert shown_usage(api)[own.key_id] == (4, iso(later))
    assert stats(api)["totalUsage"] == 4


def test_a_rollup_run_twice_counts_nothing_twice(owner: User) -> None:
    key = store_user_key(owner)
    for _ in range(3):
        call(owner, key)
    assert rollup_usage(lag=NO_LAG).calls == 3
    rolled = list(UsageTotal.objects.values_list("calls", "total_tokens"))
    again = rollup_usage(lag=NO_LAG)
    assert again.calls == 0
    assert list(UsageTotal.objects.values_list("calls", "total_tokens")) == rolled == [(3, 21)]
    assert shown_key(pk=key.pk).current_usage_count == 3


def test_records_younger_than_the_lag_wait_for_the_next_rollup(owner: User) -> None:
    key = store_user_key(owner)
    call(owner, key)
    result = rollup_usage()  # BYOK_USAGE_ROLLUP_LAG: 2 s
    assert (result.calls, result.watermark) == (0, 0)
    assert shown_key(pk=key.pk).current_usage_count == 1


def test_a_rollup_goes_in_batches_and_each_moves_the_watermark(owner: User) -> None:
    key = store_user_key(owner)
    records = [call(owner, key, status="ok" if n != 1 else "upstream_error") for n in range(5)]
    first = rollup_usage(lag=NO_LAG, batch_size=2, max_batches=1)
    assert (first.calls, first.watermark) == (1, records[1].pk)
    assert shown_key(pk=key.pk).current_usage_count == 4
    rest = rollup_usage(lag=NO_LAG, batch_size=2)
    assert (rest.calls, rest.watermark) == (3, records[-1].pk)
    assert ProviderKey.objects.get(pk=key.pk).usage_count == shown_key(pk=key.pk).current_usage_count == 4


def test_a_batch_that_fails_to_write_is_rolled_back_and_read_again(
    owner: User, member: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As when a user is deleted while a batch is read: the batch's writes are undone, then redone."""
    key = store_user_key(owner)
    call(owner, key)
    rollup_usage(lag=NO_LAG)
    call(owner, key)  # adds to the owner's existing total
    call(member, None, usage=Usage(1, 1, 2))  # a new total: written by the failing bulk_create
    real = UsageTotal.objects.bulk_create
    failures = iter([IntegrityError("insert or update violates foreign key constraint")])

    def bulk_create_failing_once(*args: Any, **kwargs: Any) -> Any:
        if failure := next(failures, None):
            raise failure
        return real(*args, **kwargs)

    monkeypatch.setattr(UsageTotal.objects, "bulk_create", bulk_create_failing_once)
    assert rollup_usage(lag=NO_LAG).calls == 2
    assert sorted(UsageTotal.objects.values_list("user__username", "calls")) == [("mia", 1), ("olivia", 2)]
    assert ProviderKey.objects.get(pk=key.pk).usage_count == 2


def test_a_read_that_finds_a_long_tail_rolls_it_up(owner: User, settings: SettingsWrapper) -> None:
    settings.BYOK_USAGE_ROLLUP_LAG, settings.BYOK_USAGE_ROLLUP_TAIL = 0, 2
    key = store_user_key(owner)
    api = make_client(owner)
    call(owner, key)
    call(owner, key)
    assert stats(api)["totalUsage"] == 2
    assert UsageRollup.objects.get().watermark == 0  # two calls: not yet a long tail
    last = call(owner, key)
    assert stats(api)["totalUsage"] == 3
    assert UsageRollup.objects.get().watermark == last.pk
    assert stats(api)["totalUsage"] == 3


def test_the_key_list_adds_the_tail_without_a_query_per_key(owner: User, group: Organization) -> None:
    api = make_client(owner)
    keys = [store_user_key(owner), store_group_key(owner, group)]
    api.get("/api/byok/keys")  # the token's first use records its last use
    with CaptureQueriesContext(connection) as before:
        api.get("/api/byok/keys")
    for key in keys:
        call(owner, key)
    rollup_usage(lag=NO_LAG)
    for key in keys * 2:
        call(owner, key)
    with CaptureQueriesContext(connection) as after:
        shown = shown_usage(api)
    assert [count for count, _ in shown.values()] == [3, 3]
    assert len(after.captured_queries) == len(before.captured_queries)


def test_the_admin_shows_a_keys_use_with_the_calls_not_rolled_up_yet(owner: User, superuser: User) -> None:
    key = store_user_key(owner)
    call(owner, key)
    rollup_usage(lag=NO_LAG)
    last = call(owner, key)
    admin = Client()
    admin.force_login(superuser)
    listing = admin.get(reverse("admin:byok_keys_providerkey_changelist")).content.decode()
    page = admin.get(reverse("admin:byok_keys_providerkey_change", args=[key.pk])).content.decode()
    shown = date_format(localtime(last.created_at), "DATETIME_FORMAT")
    assert f'<td class="field-last_used">{shown}</td>' in listing
    assert admin.get(reverse("admin:byok_keys_providerkey_changelist") + "?o=6").status_code == 200  # sorted by it
    assert '<div class="readonly">2</div>' in page and f'<div class="readonly">{shown}</div>' in page


def test_the_command_rolls_up_and_says_how_far(owner: User, settings: SettingsWrapper) -> None:
    settings.BYOK_USAGE_ROLLUP_LAG = 0
    key = store_user_key(owner)
    call(owner, key)
    last = call(owner, key)
    out = _run_command()
    assert out == f"Rolled up 2 calls; usage records up to #{last.pk} are in the totals.\n"
    assert _run_command() == f"Rolled up 0 calls; usage records up to #{last.pk} are in the totals.\n"


def _run_command() -> str:
    from io import StringIO

    out = StringIO()
    call_command("byok_rollup_usage", stdout=out)
    return out.getvalue()


def test_this_month_counts_from_the_first_of_the_month_utc(owner: User) -> None:
    key = store_user_key(owner)
    old = call(owner, key)
    UsageRecord.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(days=40))
    call(owner, key)
    rollup_usage(lag=NO_LAG)
    call(owner, key)
    month_start = old.created_at.date().replace(day=1)
    usage = user_usage(user=owner, since=month_start)
    assert (usage.by_provider["openai"].calls, usage.since.calls) == (3, 2)


# ---- Concurrency --------------------------------------------------------------------------------


def _in_threads(count: int, work: Callable[[int], None]) -> list[threading.Thread]:
    """``work(n)`` in ``count`` threads, each closing its own database connection when done."""

    def run(n: int) -> None:
        try:
            work(n)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.django_db(transaction=True)
def test_reads_stay_exact_while_rollups_run_among_concurrent_calls(owner: User, group: Organization) -> None:
    key = store_group_key(owner, group)
    writers, calls_each = 6, 25
    users = [join_group(owner=owner, group=group, user=User.objects.create_user(f"w{n}")) for n in range(writers)]
    writing, done = threading.Event(), threading.Event()
    seen: list[int] = []
    rolled_while_writing: list[int] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        for _ in range(calls_each):
            call(users[n], key)
            time.sleep(0.02)

    def roll_up_and_read(_: int) -> None:
        try:
            while not done.is_set():
                result = rollup_usage(lag=timedelta(milliseconds=200), batch_size=7, max_batches=1)
                if writing.is_set():
                    rolled_while_writing.append(result.calls)
                seen.append(shown_key(pk=key.pk).current_usage_count)
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    writing.set()
    reader = _in_threads(1, roll_up_and_read)
    for thread in _in_threads(writers, write):
        thread.join()
    writing.clear()
    done.set()
    reader[0].join()
    total = writers * calls_each
    assert errors == []
    assert sum(rolled_while_writing) > 0  # the roll-up really ran among the calls
    # Never a record counted twice (a jump above the total) or dropped (a step back).
    assert seen == sorted(seen) and seen[-1] <= total
    assert shown_key(pk=key.pk).current_usage_count == group_usage(organization=group).total_calls == total
    rollup_usage(lag=NO_LAG)
    assert ProviderKey.objects.get(pk=key.pk).usage_count == total
    assert sum(UsageTotal.objects.values_list("calls", flat=True)) == total
    assert sum(UsageTotal.objects.values_list("total_tokens", flat=True)) == total * 7


@pytest.fixture
def postgresql() -> Iterator[None]:
    if connection.vendor != "postgresql":
        pytest.skip("row locks and many concurrent writers need PostgreSQL (SQLite has one writer at a time)")
    yield


@pytest.mark.django_db(transaction=True)
def test_fifty_concurrent_calls_on_one_group_key_never_wait_for_a_lock(
    postgresql: None, owner: User, group: Organization
) -> None:
    """Every row an older design locked or updated per call is locked by another transaction here
    (the key, every total, the roll-up's row): the calls finish regardless, none ever waiting on a
    lock, and a roll-up tried meanwhile gives way at once."""
    key = store_group_key(owner, group)
    members = [join_group(owner=owner, group=group, user=User.objects.create_user(f"m{n:02d}")) for n in range(50)]
    for user in members:  # one earlier call each, rolled up: every member has a total row to lock
        call(user, key, usage=Usage(1, 1, 2))
    rollup_usage(lag=NO_LAG)

    locked, release = threading.Event(), threading.Event()

    def hold_locks(_: int) -> None:
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT 1 FROM byok_keys_providerkey WHERE id = %s FOR NO KEY UPDATE", [key.pk])
            cursor.execute("SELECT 1 FROM byok_keys_usagetotal FOR UPDATE")
            cursor.execute("SELECT 1 FROM gateway_usagerollup FOR UPDATE")
            locked.set()
            release.wait(60)
            cursor.execute("ROLLBACK")

    holder = _in_threads(1, hold_locks)
    assert locked.wait(30)
    barrier = threading.Barrier(50)
    finished: list[int] = []

    def make_call(n: int) -> None:
        barrier.wait()
        call(members[n], key, usage=Usage(10 + n, n, 10 + 2 * n))
        finished.append(n)

    lock_waits: set[int] = set()
    callers = _in_threads(50, make_call)
    deadline = time.monotonic() + 30  # a call waiting for one of the locks would wait until release
    with connection.cursor() as cursor:
        while any(thread.is_alive() for thread in callers) and time.monotonic() < deadline:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            lock_waits.update(pid for (pid,) in cursor.fetchall())
            time.sleep(0.005)
    finished_while_locked = sorted(finished)
    busy = rollup_usage(lag=NO_LAG)
    release.set()
    for thread in [*callers, *holder]:
        thread.join(60)
    assert finished_while_locked == list(range(50))
    assert lock_waits == set()
    assert busy.busy and busy.calls == 0

    expected_calls, expected_tokens = 50 + 50, 50 * 2 + sum(10 + 2 * n for n in range(50))
    usage = group_usage(organization=group)
    assert (usage.total_calls, usage.total_tokens) == (expected_calls, expected_tokens)
    assert shown_key(pk=key.pk).current_usage_count == expected_calls
    rollup_usage(lag=NO_LAG)
    assert ProviderKey.objects.get(pk=key.pk).usage_count == expected_calls
    totals = UsageTotal.objects.filter(organization=group)
    assert sum(t.calls for t in totals) == expected_calls
    assert sum(t.total_tokens for t in totals) == expected_tokens
    assert sum(t.prompt_tokens for t in totals) == 50 + sum(10 + n for n in range(50))
