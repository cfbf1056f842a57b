"""The service's own rate limits hold across processes when they are counted in Redis (REDIS_URL), and
the one round trip that counts them also checks the hot path's cache version.

Needs Redis at TEST_REDIS_URL (default redis://127.0.0.1:6379/15): skipped without it, except under
CI=true, where a missing Redis fails the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from pytest_django.fixtures import Settings as SettingsWrapper

from common import hotcache, ratelimit
from tests.factories import require_redis

ROOT = Path(__file__).resolve().parents[2]

WORKER = """
import json, os, sys, time
import django
django.setup()
from django.test import override_settings
cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": sys.argv[1]}}
with override_settings(CACHES=cache, REDIS_URL=sys.argv[1]):
    from common import ratelimit
    rate = ratelimit.Rate.parse("30/7day", setting="test")
    start = float(sys.argv[3])
    while time.time() < start:
        time.sleep(0.005)
    limit = ratelimit.Limit("user", sys.argv[2], rate, "rate_limit_user", "test")
    ok = limited = 0
    for _ in range(25):
        if ratelimit.hit_all([limit]) is None:
            ok += 1
        else:
            limited += 1
    print(json.dumps({"ok": ok, "limited": limited}))
"""


def test_limit_is_shared_by_two_processes_through_redis() -> None:
    redis_url = require_redis()
    ident = f"test-{uuid.uuid4().hex}"
    import time

    start = str(time.time() + 2.0)  # both processes start hitting at the same moment
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, redis_url, ident, start],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["ok"] for r in results) == 30  # exactly the limit, across both processes
    assert sum(r["limited"] for r in results) == 20
    assert all(r["ok"] > 0 for r in results)  # both processes really took part


@pytest.fixture
def redis_url(settings: SettingsWrapper) -> str:
    url = require_redis()
    redis.Redis.from_url(url).flushdb()
    settings.REDIS_URL = url
    return url


def limit(scope: str, rate: str) -> ratelimit.Limit:
    return ratelimit.Limit(scope, "someone", ratelimit.Rate.parse(rate, setting="test"), f"rate_limit_{scope}", scope)


def test_counting_stops_at_the_first_limit_exceeded(redis_url: str) -> None:
    user, key = limit("user", "1/min"), limit("key", "5/min")
    assert ratelimit.hit_all([user, key]) is None
    exceeded = ratelimit.hit_all([user, key])
    assert exceeded is not None and exceeded.code == "rate_limit_user"
    assert 1 <= int(exceeded.headers["Retry-After"]) <= 60
    counters = redis.Redis.from_url(redis_url).keys("byok:rl:key:*")
    assert [int(redis.Redis.from_url(redis_url).get(k) or 0) for k in counters] == [1]  # a refused call never got there


def test_a_counter_expires_with_its_window(redis_url: str) -> None:
    ratelimit.hit_all([limit("user", "3/min")])
    client = redis.Redis.from_url(redis_url)
    (counter,) = client.keys("byok:rl:user:*")
    assert 60 <= client.ttl(counter) <= 65


def test_a_stale_version_counts_nothing_and_names_the_current_one(redis_url: str) -> None:
    current = hotcache.version_read()
    with pytest.raises(ratelimit.StaleVersion) as stale:
        ratelimit.hit_all([limit("user", "3/min")], version=current - 1)
    assert stale.value.current == current
    assert redis.Redis.from_url(redis_url).keys("byok:rl:*") == []
    assert ratelimit.hit_all([limit("user", "3/min")], version=current) is None
    assert len(redis.Redis.from_url(redis_url).keys("byok:rl:*")) == 1


def test_a_lost_version_restarts_from_the_clock_not_from_one(redis_url: str) -> None:
    # A Redis restarted without persistence must not hand out again a version processes may hold.
    hotcache.version_bump()
    redis.Redis.from_url(redis_url).delete(hotcache.VERSION_KEY)
    assert hotcache.version_read() > 1_600_000_000_000_000  # microseconds since 1970
