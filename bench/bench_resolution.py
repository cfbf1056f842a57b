"""Benchmark: key resolution at scale, in process.

Loads 10,000 users, 30,000 sealed provider keys and 1,000 groups into a throw-away database (bulk inserts;
every key is really sealed with AES-256-GCM by ``byok_keys.vault``), then times the gateway's resolution
entry point (``gateway.resolution.resolve_or_raise`` by default, ``--entry module:function`` for another
one, e.g. a cached entry point) for a sample of users and providers:

- **cold**: the first call for each sampled user after the cache was emptied (``--repeats`` passes);
- **warm**: the same calls again (``--rounds`` shuffled passes after each cold one);
- **queries**: SQL statements of a cold and of a warm call (``CaptureQueriesContext``), at a tenth of the
  data and at the full size, to show the count does not grow with the data.

Targets: warm p50 < 1 ms and p99 < 3 ms; cold query count the same at both sizes.

Data: each user is an accepted member of 3 groups (the first is their default group) and has 2 own keys
(openai, anthropic); each group has 10 keys (openai, anthropic and 8 more providers); in every other
group the openai and anthropic keys are restricted to 5 of its members. A sampled call asks for one
of those 10 providers, so a call finds an own key and up to 3 group keys, or up to 3 group keys.

    .venv/bin/python bench/bench_resolution.py              # PostgreSQL (DATABASE_URL, else 127.0.0.1)
    .venv/bin/python bench/bench_resolution.py --quick      # 200 users, a few seconds

The database is Django's test database for DATABASE_URL (``test_<name>``, created and dropped). The cache
is Redis DB 7 when reachable (as in production), else local memory (``--cache-url``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._support import (
    DEFAULT_PG_ADMIN,
    DEFAULT_REDIS_URL,
    VAR,
    database_url_named,
    median,
    percentile,
    print_machine,
    print_table,
    redis_reachable,
    verdict,
    write_json,
)

GROUP_PROVIDERS = [
    "openai",
    "anthropic",
    "mistral",
    "groq",
    "deepseek",
    "together",
    "fireworks",
    "xai",
    "openrouter",
    "cohere",
]
OWN_PROVIDERS = ["openai", "anthropic"]
GROUPS_PER_USER = 3
RESTRICTED_EVERY = 2  # in every other group, the openai and anthropic keys are restricted to a few members
ALLOWED_PER_RESTRICTED = 5
DEFAULT_ENTRY = "gateway.resolution:resolve_or_raise"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--samples", type=int, default=2_000, help="users timed per size (cold, then warm)")
    parser.add_argument("--repeats", type=int, default=3, help="cold passes (cache emptied before each)")
    parser.add_argument("--rounds", type=int, default=5, help="warm passes after each cold one")
    parser.add_argument("--entry", default=DEFAULT_ENTRY, help="module:function taking user=, provider=")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or database_url_named(DEFAULT_PG_ADMIN, "h_bench_resolution"),
    )
    parser.add_argument(
        "--cache-url", default=None, help=f"Redis URL (default {DEFAULT_REDIS_URL} if reachable); '' for local memory"
    )
    parser.add_argument("--quick", action="store_true", help="200 users, 20 groups, 100 samples")
    parser.add_argument("--json", type=Path, default=VAR / "bench-resolution" / "results.json")
    args = parser.parse_args()
    if args.quick:
        args.users, args.groups, args.samples, args.rounds, args.repeats = 200, 20, 100, 2, 1
    if args.cache_url is None:
        args.cache_url = DEFAULT_REDIS_URL if redis_reachable(DEFAULT_REDIS_URL) else ""
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import override_settings, setup_test_environment

    info = print_machine()
    setup_test_environment()
    caches = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": args.cache_url}}
    if not args.cache_url:
        caches = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bench"}}
    if connection.vendor == "postgresql":
        # Never the suite's own test database (test_<name>), whatever DATABASE_URL names.
        name = connection.settings_dict["NAME"]
        connection.settings_dict.setdefault("TEST", {})["NAME"] = (
            f"test_{name if 'bench' in name else 'h_bench_resolution'}"
        )
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with override_settings(
            CACHES=caches,
            BYOK_RATE_LIMIT_USER="off",
            BYOK_RATE_LIMIT_KEY="off",
            BYOK_ALLOW_SYSTEM_KEYS=False,
            ENABLE_BYOK=True,
        ):
            results = run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    print(
        f"database: {connection.vendor} ({args.database_url.split('@')[-1]}), "
        f"cache: {args.cache_url or 'local memory'}, entry point: {args.entry}"
    )
    write_json(args.json, {"machine": info, "args": vars(args), "results": results})


def entry_point(spec: str) -> Callable[..., Any]:
    module, _, name = spec.partition(":")
    function = getattr(importlib.import_module(module), name)
    if not inspect.iscoroutinefunction(function):
        return function  # type: ignore[no-any-return]
    loop = asyncio.new_event_loop()
    return lambda **kwargs: loop.run_until_complete(function(**kwargs))


# ---- loading -----------------------------------------------------------------------------------


def load(*, first_user: int, users: int, first_group: int, groups: int, rng: random.Random) -> None:
    """``users`` users, ``groups`` groups and their keys, numbered on from ``first_user``/``first_group``."""
    from django.utils import timezone

    from byok_keys.models import ProviderKey
    from byok_keys.vault import seal_credential
    from groups.models import Membership, Organization, User

    now = timezone.now()
    orgs = Organization.objects.bulk_create(
        [Organization(slug=f"g{first_group + i:05d}", name=f"Group {first_group + i}") for i in range(groups)]
    )
    user_groups = [rng.sample(orgs, min(GROUPS_PER_USER, len(orgs))) for _ in range(users)]
    people = User.objects.bulk_create(
        [
            User(username=f"u{first_user + i:06d}", password="!", default_group_id=user_groups[i][0].pk)
            for i in range(users)
        ],
        batch_size=5_000,
    )
    members: dict[int, list[int]] = {}
    memberships = []
    for person, its_groups in zip(people, user_groups, strict=True):
        for org in its_groups:
            memberships.append(Membership(user=person, organization=org, role="member", accepted_at=now))
            members.setdefault(org.pk, []).append(person.pk)
    Membership.objects.bulk_create(memberships, batch_size=5_000)

    keys: list[ProviderKey] = []
    for person in people:
        for provider in OWN_PROVIDERS:
            keys.append(
                ProviderKey(
                    key_id=f"byok_user_{provider}_{person.pk:012x}",
                    user=person,
                    provider=provider,
                    name=f"{provider} key",
                    last4="abcd",
                    status="valid",
                )
            )
    restricted: list[tuple[int, list[int]]] = []
    for index, org in enumerate(orgs):
        for provider in GROUP_PROVIDERS:
            # Restricted keys only where every user also has an own key, so every sampled call finds one.
            limited = provider in OWN_PROVIDERS and index % RESTRICTED_EVERY == 0 and members.get(org.pk)
            keys.append(
                ProviderKey(
                    key_id=f"byok_group_{provider}_{org.pk:012x}",
                    organization=org,
                    provider=provider,
                    name=f"{provider} key",
                    last4="abcd",
                    status="valid",
                    allow_all_members=not limited,
                )
            )
            if limited:
                restricted.append(
                    (len(keys) - 1, rng.sample(members[org.pk], min(ALLOWED_PER_RESTRICTED, len(members[org.pk]))))
                )
    for key in keys:
        seal_credential(key, f"sk-bench-{key.key_id}-secret")
    ProviderKey.objects.bulk_create(keys, batch_size=5_000)
    through = ProviderKey.allowed_users.through
    through.objects.bulk_create(
        [through(providerkey_id=keys[i].pk, user_id=u) for i, allowed in restricted for u in allowed],
        batch_size=5_000,
    )


# ---- measuring ---------------------------------------------------------------------------------


def measure(args: argparse.Namespace, label: str, rng: random.Random) -> dict[str, Any]:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from byok_keys.models import ProviderKey
    from groups.models import Organization, User

    resolve = entry_point(args.entry)
    ids = list(User.objects.values_list("pk", flat=True))
    chosen = rng.sample(ids, min(len(ids), args.samples + 50))
    people = {u.pk: u for u in User.objects.filter(pk__in=chosen)}
    calls = [(people[pk], rng.choice(GROUP_PROVIDERS)) for pk in chosen[: args.samples]]
    counted = [(people[pk], rng.choice(GROUP_PROVIDERS)) for pk in chosen[args.samples :]] or calls[:10]

    def timed(user: Any, provider: str) -> float:
        started = time.perf_counter_ns()
        candidates = resolve(user=user, provider=provider)
        elapsed = (time.perf_counter_ns() - started) / 1e6
        if not candidates:
            raise AssertionError(f"no key resolved for {user.username}/{provider}")
        return elapsed

    cold_rounds, warm_rounds = [], []
    for _ in range(args.repeats):
        cache.clear()  # cold: the first call for each user since the cache was emptied
        cold_rounds.append([timed(user, provider) for user, provider in calls])
        for _ in range(args.rounds):
            rng.shuffle(calls)
            warm_rounds.append([timed(user, provider) for user, provider in calls])
    cache.clear()
    cold_queries, warm_queries = [], []
    for user, provider in counted:
        with CaptureQueriesContext(connection) as first:
            resolve(user=user, provider=provider)
        with CaptureQueriesContext(connection) as second:
            resolve(user=user, provider=provider)
        cold_queries.append(len(first.captured_queries))
        warm_queries.append(len(second.captured_queries))
    return {
        "size": label,
        "users": User.objects.count(),
        "keys": ProviderKey.objects.count(),
        "groups": Organization.objects.count(),
        "calls": len(calls),
        "cold_p50_ms": median(percentile(r, 50) for r in cold_rounds),
        "cold_p99_ms": median(percentile(r, 99) for r in cold_rounds),
        "warm_p50_ms": median(percentile(r, 50) for r in warm_rounds),
        "warm_p99_ms": median(percentile(r, 99) for r in warm_rounds),
        "warm_p50_runs_ms": [percentile(r, 50) for r in warm_rounds],
        "warm_p99_runs_ms": [percentile(r, 99) for r in warm_rounds],
        "cold_queries": sorted(set(cold_queries)),
        "cold_queries_median": median(cold_queries),
        "warm_queries": sorted(set(warm_queries)),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(10)  # the same data and sample every run
    small_users, small_groups = max(1, args.users // 10), max(GROUPS_PER_USER, args.groups // 10)
    sizes = []
    started = time.perf_counter()
    load(first_user=0, users=small_users, first_group=0, groups=small_groups, rng=rng)
    print(f"loaded a tenth ({small_users:,} users) in {time.perf_counter() - started:.1f} s", flush=True)
    sizes.append(measure(args, "a tenth", rng))
    started = time.perf_counter()
    load(
        first_user=small_users,
        users=args.users - small_users,
        first_group=small_groups,
        groups=args.groups - small_groups,
        rng=rng,
    )
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(f"loaded the rest ({args.users - small_users:,} users) in {time.perf_counter() - started:.1f} s", flush=True)
    sizes.append(measure(args, "full", rng))
    print_table(
        [
            "size",
            "users",
            "keys",
            "groups",
            "calls",
            "cold p50 ms",
            "cold p99 ms",
            "warm p50 ms",
            "warm p99 ms",
            "queries cold",
            "queries warm",
        ],
        [
            [
                s["size"],
                s["users"],
                s["keys"],
                s["groups"],
                s["calls"],
                s["cold_p50_ms"],
                s["cold_p99_ms"],
                s["warm_p50_ms"],
                s["warm_p99_ms"],
                ",".join(map(str, s["cold_queries"])),
                ",".join(map(str, s["warm_queries"])),
            ]
            for s in sizes
        ],
        title=f"Key resolution ({args.entry}), per call: medians of each pass's p50/p99",
    )
    full, small = sizes[1], sizes[0]
    targets = {
        "warm p50 < 1 ms (full size)": full["warm_p50_ms"] < 1,
        "warm p99 < 3 ms (full size)": full["warm_p99_ms"] < 3,
        "cold query count the same at both sizes": full["cold_queries"] == small["cold_queries"],
    }
    print_table(["target", "result"], [[k, verdict(v)] for k, v in targets.items()], title="Targets")
    return {"sizes": sizes, "targets": {k: verdict(v) for k, v in targets.items()}}


if __name__ == "__main__":
    main()
