"""Fixtures for the gateway's tests."""

from __future__ import annotations

import pytest
import redis
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.factories import require_redis


@pytest.fixture(params=["database", "redis"])
def version_store(request: pytest.FixtureRequest, settings: SettingsWrapper) -> str:
    """Where the hot path's cache version lives: the database (no REDIS_URL), or Redis (TEST_REDIS_URL,
    emptied first; the rate limits are counted there too). Without Redis the second run is skipped,
    except under CI=true, where it fails."""
    if request.param == "redis":
        url = require_redis()
        redis.Redis.from_url(url).flushdb()
        settings.REDIS_URL = url
    return str(request.param)
