"""Reads about keys. Never decrypts: metadata only. Returns models and small dataclasses; the
serializers in ``byok_keys/serializers.py`` turn them into the API's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from byok_keys.models import ApiToken, ProviderKey
from byok_keys.usage import with_usage
from common.errors import NotFound
from groups.models import Membership, Organization, User
from providers.registry import all_adapter_classes

UNUSABLE_STATUSES = (ProviderKey.Status.INVALID, ProviderKey.Status.REVOKED, ProviderKey.Status.UNDECRYPTABLE)


@dataclass(frozen=True)
class KeyListing:
    """A key as a reader sees it (loaded ``with_usage``): group keys with the usernames allowed to use
    them."""

    key: ProviderKey
    allowed_usernames: tuple[str, ...] = ()
    # Group keys in a member's overview: whether that member may use it.
    usable_by_me: bool | None = None

    @property
    def allowed_users(self) -> str | list[str] | None:
        """The API's ``allowedUsers``: ``"all"`` or the usernames (group keys only)."""
        if self.key.organization_id is None:
            return None
        return "all" if self.key.allow_all_members else sorted(self.allowed_usernames)

    @property
    def usable(self) -> bool:
        """Usable by the reader now (status allows it, and for group keys the reader is allowed)."""
        return self.key.status not in UNUSABLE_STATUSES and self.usable_by_me is not False


@dataclass(frozen=True)
class ProviderAvailability:
    provider: str
    name: str
    has_user_key: bool
    has_group_key: bool


@dataclass(frozen=True)
class KeysOverview:
    """Everything ``GET /api/byok/keys`` shows."""

    user: User
    default_group: Organization | None
    groups: list[Organization]
    keys: list[KeyListing]
    group_keys: list[KeyListing]
    providers: list[ProviderAvailability] = field(default_factory=list)


@dataclass(frozen=True)
class GroupDetail:
    organization: Organization
    members: list[Membership]
    keys: list[KeyListing]


def group_key_allows(key: ProviderKey, user: User, allowed: list[str] | tuple[str, ...] | None = None) -> bool:
    """Whether ``user`` (a member) may use group key ``key``."""
    if key.allow_all_members:
        return True
    if allowed is None:
        allowed = allowed_usernames(key_ids=[key.pk]).get(key.pk, [])
    return user.username in allowed


def allowed_usernames(
    *, key_ids: list[int] | None = None, org_ids: list[int] | None = None, member: User | None = None
) -> dict[int, list[str]]:
    """Key pk -> allowed usernames, in one query whatever the number of keys (never N+1)."""
    through = ProviderKey.allowed_users.through
    rows = through.objects.all()
    if key_ids is not None:
        rows = rows.filter(providerkey_id__in=key_ids)
    if org_ids is not None:
        rows = rows.filter(providerkey__organization_id__in=org_ids)
    if member is not None:
        rows = rows.filter(
            providerkey__organization__memberships__user=member,
            providerkey__organization__memberships__accepted_at__isnull=False,
        )
    result: dict[int, list[str]] = {}
    for key_pk, username in rows.values_list("providerkey_id", "user__username"):
        result.setdefault(key_pk, []).append(username)
    return result


def group_keys_queryset() -> QuerySet[ProviderKey]:
    return ProviderKey.objects.select_related("organization")


def keys_overview(*, user: User) -> KeysOverview:
    """The caller's keys, their groups' keys and which providers they can use, in a constant number
    of queries."""
    memberships = list(
        Membership.objects.active().filter(user=user).select_related("organization").order_by("organization__slug")
    )
    user_keys = list(ProviderKey.objects.filter(user=user).order_by("provider"))
    # Filtered through the membership join (not a list of ids), so the query count is the same
    # for a user with no groups as for a user with many.
    group_keys = list(
        group_keys_queryset()
        .filter(organization__memberships__user=user, organization__memberships__accepted_at__isnull=False)
        .order_by("organization__slug", "provider")
    )
    with_usage([*user_keys, *group_keys])  # one query for every key's use
    allowed = allowed_usernames(member=user)
    group_listings = [
        KeyListing(
            key=key,
            allowed_usernames=tuple(allowed.get(key.pk, [])),
            usable_by_me=group_key_allows(key, user, allowed.get(key.pk, [])),
        )
        for key in group_keys
    ]
    user_providers = {k.provider for k in user_keys}
    usable_group_providers = {g.key.provider for g in group_listings if g.usable_by_me}
    return KeysOverview(
        user=user,
        default_group=next((m.organization for m in memberships if m.organization_id == user.default_group_id), None),
        groups=[m.organization for m in memberships],
        keys=[KeyListing(key=k) for k in user_keys],
        group_keys=group_listings,
        providers=[
            ProviderAvailability(
                provider=cls.spec.id,
                name=cls.spec.name,
                has_user_key=cls.spec.id in user_providers,
                has_group_key=cls.spec.id in usable_group_providers,
            )
            for cls in all_adapter_classes()
        ],
    )


def usable_key_providers(*, user: User) -> set[str]:
    """Providers for which the caller has a usable own key or an allowed, usable group key."""
    overview = keys_overview(user=user)
    return {listing.key.provider for listing in [*overview.keys, *overview.group_keys] if listing.usable}


def user_key_get(*, user: User, provider: str) -> ProviderKey:
    key = ProviderKey.objects.filter(user=user, provider=provider).first()
    if key is None:
        raise NotFound(f"You have no {provider} key.", code="key_not_found")
    return key


def group_key_get(*, organization: Organization, provider: str) -> ProviderKey:
    key = group_keys_queryset().filter(organization=organization, provider=provider).first()
    if key is None:
        raise NotFound(f"Group '{organization.slug}' has no {provider} key.", code="key_not_found")
    return key


def group_detail(*, organization: Organization) -> GroupDetail:
    members = Membership.objects.filter(organization=organization).select_related("user").order_by("user__username")
    keys = with_usage(group_keys_queryset().filter(organization=organization))
    allowed = allowed_usernames(org_ids=[organization.pk])
    return GroupDetail(
        organization=organization,
        members=list(members),
        keys=[KeyListing(key=k, allowed_usernames=tuple(allowed.get(k.pk, []))) for k in keys],
    )


def key_listing(key: ProviderKey) -> KeyListing:
    """One key with its use and its allowed usernames (group keys)."""
    allowed = allowed_usernames(key_ids=[key.pk]).get(key.pk, []) if key.organization_id else []
    return KeyListing(key=with_usage([key])[0], allowed_usernames=tuple(allowed))


def tokens_for_user(*, user: User) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def token_get(*, user: User, token_id: str) -> ApiToken:
    """The caller's token by its ``tokenId`` (``byokt_<lookup id>``); anyone else's is a 404."""
    token = ApiToken.objects.filter(user=user, lookup_id=token_id.removeprefix("byokt_")).first()
    if token is None:
        raise NotFound(f"You have no API token {token_id}.", code="token_not_found")
    return token
