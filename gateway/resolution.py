"""Which key serves a call: ``(user, provider, group?)`` → an ordered list of candidates.

Order: the user's own key; then a group key (the group named in the request, else the user's groups
that have a key for the provider and allow the user — default group first, then by id); then the
system key from the provider's environment variable when ``BYOK_ALLOW_SYSTEM_KEYS`` is on. Keys that
are ``invalid`` or ``revoked`` are skipped. With ``ENABLE_BYOK=false`` only system keys are used.

A candidate holds no plaintext: the secret is decrypted only when ``make_adapter()`` builds the
adapter for one call. That is also why candidates can be cached between calls (``resolve_cached``):
what is cached is the sealed key row.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from django.conf import settings

from byok_keys import selectors
from byok_keys.models import ProviderKey
from byok_keys.selectors import UNUSABLE_STATUSES
from byok_keys.vault import open_credential
from common import hotcache
from common.errors import InvalidInput, NotFound
from common.ratelimit import RateLimited
from gateway.models import KeySource
from groups.models import Membership, Organization, User
from providers.base import Credential, CredentialFormatError, ProviderAdapter
from providers.registry import REGISTRY, UnknownProviderError, get_adapter_class


@dataclass(frozen=True)
class KeyCandidate:
    provider: str
    source: str  # KeySource
    key: ProviderKey | None = None
    group: Organization | None = None
    # Set on the first candidate of an admitted call (gateway.admission): its key's rate limit was
    # counted together with the caller's, in one round trip, with this outcome (None: within it).
    key_limit_counted: bool = field(default=False, compare=False)
    key_limit_exceeded: RateLimited | None = field(default=None, compare=False)

    @property
    def key_id(self) -> str:
        if self.key is not None:
            return self.key.key_id
        spec = get_adapter_class(self.provider).spec
        return f"system:{spec.env_var or self.provider}"

    @property
    def is_byok(self) -> bool:
        return self.source != KeySource.SYSTEM

    def make_adapter(self) -> ProviderAdapter:
        """Decrypt (or read the system key) into an adapter made for one call."""
        credential = open_credential(self.key) if self.key is not None else system_credential(self.provider)
        if credential is None:
            raise InvalidInput(
                f"The system key for {self.provider} is no longer configured.", code="no_key_for_provider"
            )
        return get_adapter_class(self.provider)(credential)


def system_credential(provider: str) -> Credential | None:
    """The operator's key from the environment, read per call and checked like a user's key
    (so a half-configured or malformed system key is simply not offered)."""
    adapter_cls = get_adapter_class(provider)
    spec = adapter_cls.spec
    raw: object
    if spec.requires_config:
        raw = {name: os.environ[var].strip() for name, var in spec.env_config if os.environ.get(var, "").strip()}
    else:
        raw = os.environ.get(spec.env_var or "", "").strip()
    if not raw:
        return None
    try:
        return adapter_cls.parse_credential(raw)
    except CredentialFormatError:
        return None


def system_key_available(provider: str) -> bool:
    return bool(settings.BYOK_ALLOW_SYSTEM_KEYS) and system_credential(provider) is not None


def _check_provider(provider: str) -> None:
    try:
        get_adapter_class(provider)
    except UnknownProviderError as exc:
        raise InvalidInput(str(exc), code="unknown_provider") from None


def _named_group(user: User, group_slug: str) -> Organization:
    membership = (
        Membership.objects.active()
        .select_related("organization")
        .filter(user=user, organization__slug=group_slug)
        .first()
    )
    if membership is None:
        raise NotFound(f"Group '{group_slug}' was not found among your groups.", code="group_not_found")
    return membership.organization


def _stored_candidates(*, user: User, provider: str, group_slug: str | None) -> list[KeyCandidate]:
    """The stored keys that may serve ``user``: their own, then their groups' (see the module docstring)."""
    candidates: list[KeyCandidate] = []
    own = ProviderKey.objects.filter(user=user, provider=provider).exclude(status__in=UNUSABLE_STATUSES).first()
    if own is not None:
        candidates.append(KeyCandidate(provider, KeySource.USER.value, key=own))
    group_keys = selectors.group_keys_queryset().filter(provider=provider).exclude(status__in=UNUSABLE_STATUSES)
    if group_slug:
        group_keys = group_keys.filter(organization=_named_group(user, group_slug))
    else:
        group_keys = group_keys.filter(
            organization__memberships__user=user, organization__memberships__accepted_at__isnull=False
        )
    group_list = list(group_keys)
    allowed = selectors.allowed_usernames(key_ids=[k.pk for k in group_list]) if group_list else {}
    usable = [k for k in group_list if selectors.group_key_allows(k, user, allowed.get(k.pk, []))]
    usable.sort(
        key=lambda k: (k.organization_id != user.default_group_id, k.organization.slug if k.organization else "")
    )
    candidates.extend(KeyCandidate(provider, KeySource.GROUP.value, key=k, group=k.organization) for k in usable)
    return candidates


def _system_candidates(provider: str) -> list[KeyCandidate]:
    return [KeyCandidate(provider, KeySource.SYSTEM.value)] if system_key_available(provider) else []


def resolve_candidates(*, user: User, provider: str, group_slug: str | None = None) -> list[KeyCandidate]:
    """Every key that may serve ``user`` for ``provider``, best first (failover walks this list)."""
    _check_provider(provider)
    stored = _stored_candidates(user=user, provider=provider, group_slug=group_slug) if settings.ENABLE_BYOK else []
    return [*stored, *_system_candidates(provider)]


@dataclass(frozen=True)
class Resolution:
    """The candidates for one call, and the cache version they were read at (None: not from the cache)."""

    candidates: tuple[KeyCandidate, ...]
    version: int | None = None


_resolutions: hotcache.HotCache[tuple[KeyCandidate, ...]] = hotcache.HotCache("key resolution")


def resolve_cached(*, user: User, provider: str, group_slug: str | None = None) -> Resolution:
    """``resolve_candidates`` with the stored keys from the in-process cache, by (user, provider, group);
    the system key is still read from the environment per call. Until its caller has checked
    ``version`` (gateway.admission) the answer may predate a change made on another process."""
    _check_provider(provider)
    stored: tuple[KeyCandidate, ...] = ()
    version = None
    if settings.ENABLE_BYOK and not hotcache.enabled():
        stored = tuple(_stored_candidates(user=user, provider=provider, group_slug=group_slug))
    elif settings.ENABLE_BYOK:
        cache_key = (user.pk, provider, group_slug or "")
        cached = _resolutions.get(cache_key)
        if cached is None:
            version = hotcache.tag()  # before reading: a tag is never newer than the rows under it
            stored = tuple(_stored_candidates(user=user, provider=provider, group_slug=group_slug))
            _resolutions.put(cache_key, stored, version)
        else:
            stored, version = cached
    return Resolution(candidates=(*stored, *_system_candidates(provider)), version=version)


def usable_providers(*, user: User) -> list[str]:
    """Provider ids the caller can call (own keys, allowed group keys, system keys), registry order."""
    ids: set[str] = set()
    if settings.ENABLE_BYOK:
        ids |= selectors.usable_key_providers(user=user)
    ids |= {pid for pid in REGISTRY if system_key_available(pid)}
    return [pid for pid in REGISTRY if pid in ids]


def resolve_or_raise(*, user: User, provider: str, group_slug: str | None = None) -> list[KeyCandidate]:
    candidates = resolve_candidates(user=user, provider=provider, group_slug=group_slug)
    if not candidates:
        raise no_key_for_provider(user=user, provider=provider, group_slug=group_slug)
    return candidates


def no_key_for_provider(*, user: User, provider: str, group_slug: str | None) -> InvalidInput:
    """The 400 for a caller no key can serve, naming the providers they can use."""
    usable = usable_providers(user=user)
    where = f" in group '{group_slug}'" if group_slug else ""
    return InvalidInput(
        f"No usable {provider} key{where}: add one with POST /api/byok/keys/{provider}, or ask a group admin. "
        + (f"You can use: {', '.join(usable)}." if usable else "You have no usable keys yet."),
        code="no_key_for_provider",
        extra={"usableProviders": usable},
    )
