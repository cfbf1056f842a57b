"""Per-user and per-key rate limits on Django's cache (Redis when REDIS_URL is set, so the limits hold
across processes and machines; local memory otherwise).

Fixed windows: the counter for the current window is created with ``cache.add`` and bumped with
``cache.incr``, both atomic on Redis.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from functools import lru_cache

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

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


def hit(*, scope: str, ident: str, rate: Rate | None, code: str, what: str) -> None:
    """Count one request; raise ``RateLimited`` (429, Retry-After) when over the limit."""
    if rate is None:
        return
    now = time.time()
    window_start = int(now // rate.window) * rate.window
    key = f"byok:rl:{scope}:{ident}:{rate.window}:{window_start}"
    cache.add(key, 0, timeout=rate.window + 5)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.add(key, 1, timeout=rate.window + 5)
        count = 1
    if count > rate.limit:
        RATE_LIMITED.labels(scope=scope).inc()
        retry_after = max(1, int(window_start + rate.window - now + 0.999))
        raise RateLimited(
            f"Rate limit exceeded for {what}: {rate.limit} requests per {rate.window} s. Retry in {retry_after} s.",
            code=code,
            headers={"Retry-After": str(retry_after)},
            extra={"retryAfter": retry_after},
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
    key = _failure_key(scope, ident, rate)
    cache.add(key, 0, timeout=rate.window + 5)
    try:
        cache.incr(key)
    except ValueError:
        cache.add(key, 1, timeout=rate.window + 5)


def clear_failures(*, scope: str, ident: str, rate: Rate | None) -> None:
    if rate is not None and ident:
        cache.delete(_failure_key(scope, ident, rate))


def retry_after(rate: Rate) -> int:
    now = time.time()
    return max(1, int((now // rate.window) * rate.window + rate.window - now + 0.999))
