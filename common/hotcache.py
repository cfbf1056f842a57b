"""The hot path's in-process cache, invalidated on every process at once by one shared version counter.

A gateway call has to know who is calling (their API token) and which keys may serve them: read from
the database that is about ten round trips per call, read from here none. What keeps it right:

- Every change that can alter either answer (a token revoked, a key deleted, replaced or made
  unusable, a member removed or their role changed, ``allowedUsers`` changed, a user deactivated, a
  group deleted) bumps the counter once its transaction has committed (``version_bump_on_commit``,
  registered on the models' signals by the apps that own them: ``groups/receivers.py``,
  ``byok_keys/receivers.py``). Bumping before the commit would let another process read the old rows
  again and file them under the new version.
- An entry is tagged with the version this process knew *before* it read the database (``tag``), so a
  tag is never newer than the data under it. An entry is used only while its tag is the newest
  version the process knows, and for at most ``BYOK_AUTH_CACHE_SECONDS``.
- A call sends the tag of what it used to the counter in the same round trip that counts its rate
  limits (``common.ratelimit.hit_all(version=…)``). If the counter has moved on, nothing is counted:
  the caller learns the new version, reads the database again and counts then. So a change is seen
  by the very next call on every process, and a warm call costs one round trip to Redis.

The counter lives in Redis when ``REDIS_URL`` is set (the key ``byok:cache-version``), otherwise in the
database (``common.CacheVersion``, one row, read once per call). ``BYOK_AUTH_CACHE_SECONDS`` also bounds
how long a lost bump (Redis unreachable right after a commit, logged as an error) can go unseen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from functools import lru_cache
from typing import Any, Generic, TypeVar

import redis
from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F

from common.models import CacheVersion

logger = logging.getLogger("byok.hotcache")

VERSION_KEY = "byok:cache-version"

# Lua, the start of every script that reads the counter: ``version`` is the current value, created
# when missing. It starts from the server's clock in microseconds rather than from 1, so a Redis that
# lost the key (restarted without persistence) never hands out again a version that a process may
# still hold entries for.
LUA_CURRENT_VERSION = """
local version = redis.call('GET', KEYS[1])
if not version then
  local now = redis.call('TIME')
  redis.call('SET', KEYS[1], now[1] .. string.format('%06d', tonumber(now[2])), 'NX')
  version = redis.call('GET', KEYS[1])
end
"""
_READ_LUA = LUA_CURRENT_VERSION + "return version\n"
_BUMP_LUA = LUA_CURRENT_VERSION + "return redis.call('INCR', KEYS[1])\n"

MAX_ENTRIES = 10_000  # per cache: bounds a process's memory whatever the number of tokens and users

V = TypeVar("V")

# The newest version this process has seen; entries tagged otherwise are not used.
_known: int | None = None
_caches: list[HotCache[Any]] = []


def enabled() -> bool:
    """``BYOK_AUTH_CACHE_SECONDS`` 0 turns the cache off: every call reads the database."""
    return settings.BYOK_AUTH_CACHE_SECONDS > 0


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


@lru_cache(maxsize=16)
def _script(url: str, lua: str) -> Any:
    return _client(url).register_script(lua)


def redis_script(lua: str) -> Any:
    """``lua`` as a callable script (EVALSHA: one round trip) on the Redis of ``REDIS_URL``; None without
    Redis."""
    url = settings.REDIS_URL
    return _script(url, lua) if url else None


def version_read() -> int:
    """The shared version now: one round trip to Redis, or one query without it."""
    script = redis_script(_READ_LUA)
    if script is not None:
        return int(script(keys=[VERSION_KEY]))
    return CacheVersion.objects.filter(pk=1).values_list("value", flat=True).first() or 0


def version_bump() -> None:
    script = redis_script(_BUMP_LUA)
    if script is not None:
        script(keys=[VERSION_KEY])
        return
    if not CacheVersion.objects.filter(pk=1).update(value=F("value") + 1):
        # The migration made the row; should it be gone (a flushed database), it starts again from the
        # clock, for the same reason as in Redis.
        CacheVersion.objects.get_or_create(pk=1, defaults={"value": time.time_ns() // 1000})


def _bump_after_commit() -> None:
    try:
        version_bump()
    except (redis.RedisError, DatabaseError):
        # The change is committed and cannot be undone here: caches may serve the state before it for
        # up to BYOK_AUTH_CACHE_SECONDS.
        logger.exception("the cache version was not bumped; caches expire within BYOK_AUTH_CACHE_SECONDS")


def version_bump_on_commit(using: str | None = None) -> None:
    """Bump the shared version once the current transaction commits (at once outside a transaction)."""
    transaction.on_commit(_bump_after_commit, using=using)


def learn(version: int) -> None:
    """Take ``version`` as the newest: from now on only entries tagged with it are used."""
    global _known
    _known = version


def tag() -> int:
    """The version to tag what is about to be read from the database with: the newest this process
    knows (never newer than what the read will see), read from the counter on the process's first
    miss."""
    known = _known
    if known is None:
        known = version_read()
        learn(known)
    return known


class HotCache(Generic[V]):
    """A bounded map of values read from the database, each used while its tag is the newest version
    this process knows and for at most ``BYOK_AUTH_CACHE_SECONDS``. Thread-safe; the least recently
    used entry goes first when full."""

    def __init__(self, name: str, max_entries: int = MAX_ENTRIES) -> None:
        self.name = name
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[V, int, float]] = OrderedDict()
        self._lock = threading.Lock()
        _caches.append(self)

    def get(self, key: Hashable) -> tuple[V, int] | None:
        """The value and its tag; None when absent, expired or tagged with an older version."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            value, version, stored_at = entry
            if version != _known or time.monotonic() - stored_at >= settings.BYOK_AUTH_CACHE_SECONDS:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return value, version

    def put(self, key: Hashable, value: V, version: int) -> None:
        with self._lock:
            self._entries[key] = (value, version, time.monotonic())
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def clear_all() -> None:
    """Forget every entry and the known version, as a new process would (tests)."""
    global _known
    _known = None
    for cache in _caches:
        cache.clear()
