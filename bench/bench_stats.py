"""Benchmark: GET /api/byok/stats stays fast with a million usage records.

Stats read the running totals (byok_keys.UsageTotal), never the usage records, so the time should
not change between an empty table and a million rows. Run:

    .venv/bin/python bench/bench_stats.py [--records 1000000]

Uses a throw-away SQLite database under var/ (or DATABASE_URL) and prints median/p95 per request.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        run(args.records, args.requests)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
    del settings, call_command


def measure(client: object, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get("/api/byok/stats")  # type: ignore[attr-defined]
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def run(records: int, requests: int) -> None:
    from rest_framework.test import APIClient

    from byok_keys.models import ProviderKey
    from byok_keys.services import KeyOwner, api_token_create, provider_key_store
    from gateway.models import KeySource, UsageRecord
    from gateway.usage import usage_record_call
    from groups.models import User
    from providers.chat import Usage

    user = User.objects.create_user(username="bench", password="x")
    key, _ = provider_key_store(
        actor=user,
        owner=KeyOwner(user=user),
        provider="openai",
        credential="sk-proj-" + "b" * 40 + "T3BlbkFJ" + "c" * 40,
    )
    _, token = api_token_create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    for _ in range(5):
        usage_record_call(
            user=user,
            provider="openai",
            model="gpt-4o-mini",
            source=KeySource.USER,
            key=key,
            key_label=key.key_id,
            organization=None,
            usage=Usage(10, 5, 15),
            status="ok",
            latency_ms=100,
        )
    empty_median, empty_p95 = measure(client, requests)

    started = time.perf_counter()
    batch = 10_000
    template = {
        "user": user,
        "provider_key": key,
        "key_label": key.key_id,
        "source": KeySource.USER,
        "provider": "openai",
        "model": "gpt-4o-mini",
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "status": "ok",
        "latency_ms": 100,
    }
    for offset in range(0, records, batch):
        UsageRecord.objects.bulk_create([UsageRecord(**template) for _ in range(min(batch, records - offset))])
    fill_s = time.perf_counter() - started
    count = UsageRecord.objects.count()
    full_median, full_p95 = measure(client, requests)
    body = client.get("/api/byok/stats").json()
    print(f"database: {ProviderKey.objects.db}, vendor {__import__('django.db').db.connection.vendor}")
    print(f"usage records: {count:,} (inserted in {fill_s:.1f} s)")
    print(f"GET /api/byok/stats with 5 records:      median {empty_median:.2f} ms, p95 {empty_p95:.2f} ms")
    print(f"GET /api/byok/stats with {count:,} records: median {full_median:.2f} ms, p95 {full_p95:.2f} ms")
    print(f"stats body: totalUsage={body['stats']['totalUsage']}")


if __name__ == "__main__":
    main()
