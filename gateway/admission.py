"""Admission of a gateway call: whether its API token still holds, which keys may serve it, and whether
its rate limits let it in — warm, from the in-process cache (``common.hotcache``) and one round trip to
Redis, with no database read (without Redis: one query, the cache version).

That round trip (``common.ratelimit.hit_all``) counts the caller's limit (``BYOK_RATE_LIMIT_USER``) and
the first key's (``BYOK_RATE_LIMIT_KEY``) and carries the version the cached token and keys were read at.
If that is no longer the shared version (something changed since, on any process), nothing is counted:
the token and the keys are read again from the database and the call is counted then, in a second
round trip, on the first call after a change only. A key tried on failover is counted when it is tried.
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings

from byok_keys.authentication import TokenRefused
from byok_keys.services import TokenGrant, api_token_grant_refresh
from common import hotcache, ratelimit
from common.errors import ServiceError
from gateway import resolution
from gateway.resolution import KeyCandidate, Resolution
from groups.models import User


def user_limit(user: User) -> ratelimit.Limit:
    return ratelimit.Limit(
        scope="user",
        ident=str(user.pk),
        rate=ratelimit.configured_rate(settings.BYOK_RATE_LIMIT_USER, "BYOK_RATE_LIMIT_USER"),
        code="rate_limit_user",
        what="your account (BYOK_RATE_LIMIT_USER)",
    )


def key_limit(candidate: KeyCandidate) -> ratelimit.Limit:
    return ratelimit.Limit(
        scope="key",
        ident=candidate.key_id,
        rate=ratelimit.configured_rate(settings.BYOK_RATE_LIMIT_KEY, "BYOK_RATE_LIMIT_KEY"),
        code="rate_limit_key",
        what=f"the key {candidate.key_id} (BYOK_RATE_LIMIT_KEY)",
    )


def _resolve(user: User, provider: str, group_slug: str | None) -> tuple[Resolution | None, ServiceError | None]:
    try:
        return resolution.resolve_cached(user=user, provider=provider, group_slug=group_slug), None
    except ServiceError as exc:  # raised after counting: a refused call counts against the caller too
        return None, exc


def _limits(user: User, resolved: Resolution | None) -> list[ratelimit.Limit]:
    limits = [user_limit(user)]
    if resolved is not None and resolved.candidates:
        limits.append(key_limit(resolved.candidates[0]))
    return limits


def admit(*, user: User, grant: TokenGrant | None, provider: str, group_slug: str | None) -> tuple[KeyCandidate, ...]:
    """The keys that may serve ``user`` for ``provider``, best first, once the call is counted against
    the caller's limit and the first key's (whose outcome the first candidate carries, so that an
    exceeded key limit fails over like any refusal of that key).

    ``grant`` is the cached token the call was let in with (None for the page's session, read from the
    database on every request). Raises 401 ``TokenRefused`` when it no longer holds, 429
    ``rate_limit_user``, and resolution's refusals (400 ``no_key_for_provider``, 404
    ``group_not_found``, ...).
    """
    resolved, error = _resolve(user, provider, group_slug)
    tags = [v for v in (grant.version if grant else None, resolved.version if resolved else None) if v is not None]
    limits = _limits(user, resolved)
    try:
        exceeded = ratelimit.hit_all(limits, version=min(tags) if tags else None)
    except ratelimit.StaleVersion as stale:
        hotcache.learn(stale.current)
        if grant is not None:
            fresh = api_token_grant_refresh(grant=grant)
            if fresh is None:
                raise TokenRefused() from None
            user = fresh.user
        resolved, error = _resolve(user, provider, group_slug)
        limits = _limits(user, resolved)
        # Read after the change was announced: as current as a read without any cache, so count now.
        exceeded = ratelimit.hit_all(limits)
    if exceeded is not None and exceeded.code == limits[0].code:  # the caller's own limit
        raise exceeded
    if error is not None:
        raise error
    if resolved is None or not resolved.candidates:
        raise resolution.no_key_for_provider(user=user, provider=provider, group_slug=group_slug)
    first, *rest = resolved.candidates
    return (replace(first, key_limit_counted=True, key_limit_exceeded=exceeded), *rest)


def key_limit_hit(candidate: KeyCandidate) -> None:
    """Count a call on ``candidate``'s key, unless admission already did; 429 ``rate_limit_key`` over it."""
    if candidate.key_limit_counted:
        exceeded = candidate.key_limit_exceeded
    else:
        exceeded = ratelimit.hit_all([key_limit(candidate)])
    if exceeded is not None:
        raise exceeded
