"""Benchmark: one warm gateway call (POST /api/inference by a member served by a group key), with the hot
path's cache off and on, the version in the database and (with --redis) in Redis, in one run.

The modes take turns in blocks of calls. Per call: median and p95 time through the whole Django stack
(token auth included; the provider is a `responses` mock, so its time is the same in every mode),
database queries (apart from the usage ledger's, shown separately) and Redis round trips. Run:

    .venv/bin/python bench/bench_hot_path.py [--calls 300] [--redis redis://127.0.0.1:6379/6]
    .venv/bin/python bench/bench_hot_path.py --code /path/to/another/checkout   # the same, on other code

Uses a throw-away SQLite database under var/ (or DATABASE_URL). With --redis that Redis database is
emptied first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

ROUNDS = 10
CHAT_URL = "https://api.openai.com/v1/chat/completions"
ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "model": "gpt-4o-mini",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--redis", default="", help="a Redis URL (its database is emptied) to measure with Redis too")
    parser.add_argument("--code", default=str(ROOT), help="the checkout whose code is measured")
    args = parser.parse_args()
    sys.path.insert(0, args.code)

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0)
    try:
        run(args.calls, args.redis, args.code)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def call(client: Any) -> Any:
    return client.post("/api/inference", {"provider": "openai", "model": "gpt-4o-mini", "prompt": "Hi"}, format="json")


def run(calls: int, redis_url: str, code: str) -> None:
    import redis
    import responses
    from django.db import connection
    from django.test import override_settings
    from django.test.utils import CaptureQueriesContext
    from redis.connection import AbstractConnection
    from rest_framework.test import APIClient

    from byok_keys.services import KeyOwner, api_token_create, provider_key_store
    from gateway import services
    from groups.models import User
    from groups.services import group_create, membership_accept, membership_set

    owner = User.objects.create_user(username="owner", password="x")
    member = User.objects.create_user(username="member", password="x")
    group = group_create(actor=owner, slug="team", name="Team")
    membership_set(actor=owner, org=group, username="member")
    membership_accept(user=member, org=group)
    provider_key_store(
        actor=owner,
        owner=KeyOwner(organization=group),
        provider="openai",
        credential="sk-proj-" + "b" * 40 + "T3BlbkFJ" + "c" * 40,
    )
    _, token = api_token_create(user=member)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    redis_replies = 0
    usage_queries = 0
    read_response = AbstractConnection.read_response

    def counted_read(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal redis_replies
        redis_replies += 1
        return read_response(self, *args, **kwargs)

    record = services.usage_record_call

    def counted_record(**kwargs: Any) -> Any:
        nonlocal usage_queries
        with CaptureQueriesContext(connection) as inner:
            result = record(**kwargs)
        usage_queries += len(inner.captured_queries)
        return result

    AbstractConnection.read_response = counted_read  # type: ignore[method-assign]
    services.usage_record_call = counted_record  # type: ignore[assignment]

    stores = [("database", "")] + ([("redis", redis_url)] if redis_url else [])
    if redis_url:
        redis.Redis.from_url(redis_url).flushdb()
    modes = [(store, url, seconds) for store, url in stores for seconds in (0, 30)]
    times: dict[tuple[str, int], list[float]] = {(store, seconds): [] for store, _, seconds in modes}
    queries = dict.fromkeys(times, 0)
    usage = dict.fromkeys(times, 0)
    replies = dict.fromkeys(times, 0)
    # The modes take turns in short blocks, so a machine busy with something else slows them alike.
    for _ in range(ROUNDS):
        for store, url, seconds in modes:
            overrides = dict(
                REDIS_URL=url,
                CACHES={
                    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
                    if url
                    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "bench"}
                },
                BYOK_AUTH_CACHE_SECONDS=seconds,
                BYOK_RATE_LIMIT_USER="1000000/min",
                BYOK_RATE_LIMIT_KEY="1000000/min",
            )
            with override_settings(**overrides), responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
                mock.add(responses.POST, CHAT_URL, json=ANSWER)
                for _ in range(3):  # warm: this mode's cache, connections, the token's last_used_at
                    assert call(client).status_code == 200
                redis_replies = usage_queries = 0
                for _ in range(calls // ROUNDS):
                    with CaptureQueriesContext(connection) as ctx:
                        started = time.perf_counter()
                        response = call(client)
                        times[store, seconds].append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.content
                    queries[store, seconds] += len(ctx.captured_queries)
                usage[store, seconds] += usage_queries
                replies[store, seconds] += redis_replies

    print(f"code: {code}\ndatabase: {connection.vendor}; {calls} warm calls per mode\n")
    print(f"{'mode':<24}{'median ms':>10}{'p95 ms':>9}{'queries':>9}{'+ usage':>9}{'redis':>7}{'median vs off':>15}")
    for store, _, seconds in modes:
        done = sorted(times[store, seconds])
        n = len(done)
        median = statistics.median(done)
        off = statistics.median(times[store, 0])
        mode = f"{store}, cache {'on' if seconds else 'off'}"
        besides_usage = queries[store, seconds] - usage[store, seconds]
        print(
            f"{mode:<24}{median:>10.2f}{done[int(n * 0.95) - 1]:>9.2f}{besides_usage / n:>9.1f}"
            f"{usage[store, seconds] / n:>9.1f}{replies[store, seconds] / n:>7.1f}{median / off:>15.2f}"
        )


if __name__ == "__main__":
    main()
