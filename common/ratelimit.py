"""Per-user and per-key rate limits: fixed windows, counted in Redis when REDIS_URL is set (so the limits
hold across processes and machines), on Django's cache otherwise (local memory).

On Redis one request's counters (the caller's and the first key's) are counted by one Lua script, in
one round trip, together with the check that the cached data the request was admitted on is current
(``hit_all(version=…)``, see ``common.hotcache``). Without Redis each counter is created with
``cache.add`` and bumped with ``cache.incr``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from common import hotcache
from common.errors import ServiceError
from common.metrics import RATE_LIMITED

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    window: int  # seconds

    @classmethod
    def parse(cls, text: str, *, setting: str) -> Rate | None:
        """``"600/min"``, ``"10/s"``, ``"1000/5min"``; ``""`` or ``"off"`` disable the limit."""
        if not text or text.strip().lower() in ("off", "none"):
            return None
        match = _RATE_RE.match(text.lower())
        if not match or match.group(3) not in _UNITS or int(match.group(2) or 1) == 0 or int(match.group(1)) == 0:
            raise ImproperlyConfigured(f"{setting}={text!r} is not a rate like 600/min, 10/s, 1000/5min or off.")
        return cls(int(match.group(1)), int(match.group(2) or 1) * _UNITS[match.group(3)])


@lru_cache(maxsize=16)
def configured_rate(text: str, setting: str) -> Rate | None:
    return Rate.parse(text, setting=setting)


class RateLimited(ServiceError):
    status = 429


@dataclass(frozen=True)
class Limit:
    """One counter a request hits: ``rate`` for ``ident`` in ``scope``; ``code`` and ``what`` word its 429."""

    scope: str
    ident: str
    rate: Rate | None  # None: no limit
    code: str
    what: str


class StaleVersion(Exception):
    """The cached data a request was about to be admitted on predates a change (``common.hotcache``)."""

    def __init__(self, current: int) -> None:
        super().__init__(f"the cache version is now {current}")
        self.current = current


# KEYS[1] the cache version, KEYS[2..] one counter per limit. ARGV[1] the version the caller's cached
# data was read at ('' counts without checking), then per counter its limit and time to live.
# Returns {0, version} when ARGV[1] is not the current version (nothing counted), else
# {1, version, count...}: counting stops at the first counter over its limit, as a request refused
# there never reaches the next one.
_HIT_ALL_LUA = (
    hotcache.LUA_CURRENT_VERSION
    + """
if ARGV[1] ~= '' and ARGV[1] ~= version then
  return {0, version}
end
local result = {1, version}
for i = 2, #KEYS do
  local count = redis.call('INCR', KEYS[i])
  if count == 1 then
    redis.call('EXPIRE', KEYS[i], ARGV[2 * i - 1])
  end
  result[#result + 1] = count
  if count > tonumber(ARGV[2 * i - 2]) then
    break
  end
end
return result
"""
)


def hit_all(limits: Sequence[Limit], *, version: int | None = None) -> RateLimited | None:
    """Count one request against each of ``limits`` in order, stopping at the first one exceeded, whose
    429 is returned for the caller to raise (or to act on: a key over its limit means failover).

    With ``version`` (the tag of the cached data the request was admitted on), first check that it is
    still the shared cache version; if not, count nothing and raise ``StaleVersion``. On Redis all of
    this is one round trip; without Redis the version is one database query.
    """
    active = [(limit, limit.rate) for limit in limits if limit.rate is not None]
    if not active and version is None:
        return None
    now = time.time()
    keys = [_counter_key(limit.scope, limit.ident, rate, now) for limit, rate in active]
    script = hotcache.redis_script(_HIT_ALL_LUA)
    if script is not None:
        args: list[object] = ["" if version is None else str(version)]
        for _, rate in active:
            args += [rate.limit, rate.window + 5]
        reply = script(keys=[hotcache.VERSION_KEY, *keys], args=args)
        if not reply[0]:
            raise StaleVersion(int(reply[1]))
        counts = [int(count) for count in reply[2:]]
    else:
        if version is not None and (current := hotcache.version_read()) != version:
            raise StaleVersion(current)
        counts = []
        for (_, rate), key in zip(active, keys, strict=True):
            counts.append(_incr(key, rate))
            if counts[-1] > rate.limit:
                break
    for (limit, rate), count in zip(active, counts, strict=False):
        if count > rate.limit:
            return _exceeded(limit, rate, now)
    return None


def _counter_key(scope: str, ident: str, rate: Rate, now: float) -> str:
    window_start = int(now // rate.window) * rate.window
    return f"byok:rl:{scope}:{ident}:{rate.window}:{window_start}"


def _incr(key: str, rate: Rate) -> int:
    cache.add(key, 0, timeout=rate.window + 5)
    try:
        return int(cache.incr(key))
    except ValueError:  # evicted between add and incr
        cache.add(key, 1, timeout=rate.window + 5)
        return 1


def _exceeded(limit: Limit, rate: Rate, now: float) -> RateLimited:
    RATE_LIMITED.labels(scope=limit.scope).inc()
    wait = retry_after(rate, now)
    return RateLimited(
        f"Rate limit exceeded for {limit.what}: {rate.limit} requests per {rate.window} s. Retry in {wait} s.",
        code=limit.code,
        headers={"Retry-After": str(wait)},
        extra={"retryAfter": wait},
    )


# ---- failed authentication ----------------------------------------------------------------------
# Counted per IP address and per account in fixed windows: past the limit, attempts are refused with
# a 429 before any password or token is checked, so guessing stays slow even from many connections.


def _failure_key(scope: str, ident: str, rate: Rate) -> str:
    window_start = int(time.time() // rate.window) * rate.window
    return f"byok:authfail:{scope}:{ident}:{rate.window}:{window_start}"


def failure_count(*, scope: str, ident: str, rate: Rate | None) -> int:
    if rate is None or not ident:
        return 0
    return int(cache.get(_failure_key(scope, ident, rate)) or 0)


def record_failure(*, scope: str, ident: str, rate: Rate | None) -> None:
    if rate is None or not ident:
        return
    _incr(_failure_key(scope, ident, rate), rate)


def clear_failures(*, scope: str, ident: str, rate: Rate | None) -> None:
    if rate is not None and ident:
        cache.delete(_failure_key(scope, ident, rate))


def retry_after(rate: Rate, now: float | None = None) -> int:
    """Whole seconds until the current window of ``rate`` ends (at least 1)."""
    now = time.time() if now is None else now
    return max(1, int((now // rate.window) * rate.window + rate.window - now + 0.999))
