"""The service's own rate limits hold across processes when the cache is Redis (REDIS_URL).

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

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"
REDIS_URL = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)

WORKER = """
import json, os, sys, time
import django
django.setup()
from django.test import override_settings
cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": sys.argv[1]}}
with override_settings(CACHES=cache):
    from common import ratelimit
    rate = ratelimit.Rate.parse("30/7day", setting="test")
    start = float(sys.argv[3])
    while time.time() < start:
        time.sleep(0.005)
    ok = limited = 0
    for _ in range(25):
        try:
            ratelimit.hit(scope="user", ident=sys.argv[2], rate=rate, code="rate_limit_user", what="test")
            ok += 1
        except ratelimit.RateLimited as exc:
            limited += 1
            retry = exc.headers["Retry-After"]
    print(json.dumps({"ok": ok, "limited": limited}))
"""


def require_redis() -> None:
    """Skip when Redis is unreachable, with how to run the test; under CI (``CI=true``) fail instead."""
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        message = (
            f"Redis is not reachable at {REDIS_URL} ({exc}). To run this test, start Redis at TEST_REDIS_URL "
            f"(default {DEFAULT_REDIS_URL}, e.g. `redis-server --port 6379`)."
        )
        if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
            pytest.fail(message + " CI=true: Redis is required.")
        pytest.skip(message)


def test_limit_is_shared_by_two_processes_through_redis() -> None:
    require_redis()
    ident = f"test-{uuid.uuid4().hex}"
    import time

    start = str(time.time() + 2.0)  # both processes start hitting at the same moment
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, REDIS_URL, ident, start],
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
