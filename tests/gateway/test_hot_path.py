"""The hot path: auth and key resolution from the in-process cache (``common.hotcache``), one round trip
to Redis per warm call, and every change that matters seen by the very next call.

Tests taking ``version_store`` run with the version in the database and again in Redis (TEST_REDIS_URL:
skipped without Redis, except under CI=true). Two processes sharing Redis or the database are in test_hot_path_live.py.
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import responses
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings as SettingsWrapper
from redis.connection import AbstractConnection
from rest_framework.test import APIClient

from byok_keys.models import ApiToken, ProviderKey
from byok_keys.services import (
    AllowedUsers,
    api_token_revoke,
    provider_key_delete,
    provider_key_record_validation,
    provider_key_revoke,
    provider_key_update_metadata,
)
from common import hotcache
from gateway import services
from groups.models import Membership, Organization, User
from groups.services import membership_remove, membership_set
from providers.validation import KeyStatus, ValidationResult
from tests.factories import (
    OPENAI_CHAT_URL,
    OPENAI_KEY,
    make_client,
    store_group_key,
    store_user_key,
)

GROUP_KEY = OPENAI_KEY[:-6] + "Group1"
NEW_KEY = OPENAI_KEY[:-6] + "Newer1"


@pytest.fixture
def answers(provider_mock: responses.RequestsMock) -> responses.RequestsMock:
    """The provider answers every chat call (one registered answer serves them all)."""
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion())
    return provider_mock


def completion() -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }


def infer(client: APIClient) -> Any:
    return client.post("/api/inference", {"provider": "openai", "model": "gpt-4o-mini", "prompt": "Hi"}, format="json")


def served(client: APIClient) -> tuple[int, str]:
    """(status, keySource or error code) of one call."""
    response = infer(client)
    body = response.json()
    return response.status_code, body.get("keySource") or body.get("code")


@dataclass
class RoundTrips:
    queries: list[str] = field(default_factory=list)  # every database query of the call
    usage_queries: list[str] = field(default_factory=list)  # those made recording usage (the ledger's own)
    redis: int = 0

    @property
    def database_besides_usage(self) -> int:
        return len(self.queries) - len(self.usage_queries)


@contextmanager
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    """Counts a call's database queries (apart from the usage ledger's) and Redis replies read."""
    trips = RoundTrips()
    record = services.usage_record_call

    def recording(**kwargs: Any) -> Any:
        with CaptureQueriesContext(connection) as inner:
            result = record(**kwargs)
        trips.usage_queries += [q["sql"] for q in inner.captured_queries]
        return result

    read_response = AbstractConnection.read_response

    def counted(self: AbstractConnection, *args: Any, **kwargs: Any) -> Any:
        trips.redis += 1
        return read_response(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(services, "usage_record_call", recording)
        patch.setattr(AbstractConnection, "read_response", counted)
        with CaptureQueriesContext(connection) as ctx:
            yield trips
    trips.queries = [q["sql"] for q in ctx.captured_queries]


# ---- Round trips ----------------------------------------------------------------------------------


def test_a_warm_call_reads_nothing_but_the_version_and_counts_both_limits_in_one_round_trip(
    version_store: str,
    owner: User,
    member: User,
    group: Organization,
    answers: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: SettingsWrapper,
) -> None:
    store_group_key(owner, group, raw=GROUP_KEY)  # the member's key is a group key: the longest resolution
    client = make_client(member)
    with round_trips(monkeypatch) as cold:
        assert infer(client).status_code == 200
    with round_trips(monkeypatch) as warm:
        assert infer(client).status_code == 200
    assert cold.database_besides_usage >= 5  # token, user, keys, memberships, allowedUsers: really read
    if version_store == "redis":
        # Warm: the version check and both rate limits in one script; the database only for usage.
        assert (warm.database_besides_usage, warm.redis) == (0, 1), warm.queries
        counters = redis.Redis.from_url(settings.REDIS_URL)
        assert [int(counters.get(k) or 0) for k in counters.keys("byok:rl:*")] == [2, 2]  # the caller's, the key's
    else:
        # Without Redis the version is one query; the limits are on Django's (local) cache.
        assert (warm.database_besides_usage, warm.redis) == (1, 0), warm.queries
        assert "cacheversion" in warm.queries[0].lower()


def test_with_the_cache_off_every_call_reads_the_database(
    owner: User, own_key: ProviderKey, answers: Any, settings: SettingsWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.BYOK_AUTH_CACHE_SECONDS = 0
    client = make_client(owner)
    infer(client)
    with round_trips(monkeypatch) as trips:
        assert served(client) == (200, "user")
    assert trips.database_besides_usage >= 3  # the token with its user, the own key, the group keys
    assert not any("cacheversion" in q.lower() for q in trips.queries)


# ---- Every change that matters is seen by the next call ---------------------------------------------


@pytest.fixture
def own_key(owner: User) -> ProviderKey:
    return store_user_key(owner)


def token_of(client: APIClient) -> ApiToken:
    return ApiToken.objects.get(lookup_id=client.token.split("_", 1)[1].split(".")[0])  # type: ignore[attr-defined]


def _own(owner: User) -> ProviderKey:
    return ProviderKey.objects.get(user=owner)


def revoke_token(owner: User, client: APIClient) -> None:
    api_token_revoke(token=token_of(client), actor=owner)


def deactivate_user(owner: User, client: APIClient) -> None:
    user = User.objects.get(pk=owner.pk)
    user.is_active = False
    user.save()


def delete_own_key(owner: User, client: APIClient) -> None:
    provider_key_delete(actor=owner, key=_own(owner))


def revoke_own_key(owner: User, client: APIClient) -> None:
    provider_key_revoke(actor=owner, key=_own(owner))


def own_key_found_invalid(owner: User, client: APIClient) -> None:
    result = ValidationResult(KeyStatus.INVALID, "401 from the provider")
    provider_key_record_validation(key=_own(owner), result=result, actor=None)


# What the owner's next call gets after each change. The owner has their own key and the group's key.
OWNER_CHANGES: dict[Callable[[User, APIClient], None], tuple[int, str]] = {
    revoke_token: (401, "invalid_token"),
    deactivate_user: (401, "invalid_token"),
    delete_own_key: (200, "group"),
    revoke_own_key: (200, "group"),
    own_key_found_invalid: (200, "group"),
}


@pytest.mark.parametrize("change", OWNER_CHANGES, ids=lambda change: change.__name__)
def test_a_change_to_the_callers_token_or_key_is_seen_by_the_next_call(
    change: Callable[[User, APIClient], None],
    version_store: str,
    owner: User,
    group: Organization,
    own_key: ProviderKey,
    answers: Any,
) -> None:
    store_group_key(owner, group, raw=GROUP_KEY)
    client = make_client(owner)
    assert served(client) == served(client) == (200, "user")  # warm
    change(owner, client)
    assert served(client) == OWNER_CHANGES[change]


def test_a_replaced_key_serves_the_next_call(
    version_store: str, owner: User, own_key: ProviderKey, answers: responses.RequestsMock
) -> None:
    client = make_client(owner)
    assert infer(client).json()["keyId"] == infer(client).json()["keyId"] == own_key.key_id  # warm
    replaced = store_user_key(owner, raw=NEW_KEY)
    assert infer(client).json()["keyId"] == replaced.key_id != own_key.key_id
    assert answers.calls[-1].request.headers["Authorization"] == f"Bearer {NEW_KEY}"


def remove_member(owner: User, member: User, group: Organization) -> None:
    membership_remove(actor=owner, org=group, username=member.username)


def allow_only_the_owner(owner: User, member: User, group: Organization) -> None:
    key = ProviderKey.objects.get(organization=group)
    provider_key_update_metadata(actor=owner, key=key, allowed=AllowedUsers((owner.username,)))


def delete_group_key(owner: User, member: User, group: Organization) -> None:
    provider_key_delete(actor=owner, key=ProviderKey.objects.get(organization=group))


def delete_group(owner: User, member: User, group: Organization) -> None:
    group.delete()


# Each takes the group's key away from the member, who has no key of their own.
MEMBER_CHANGES = [remove_member, allow_only_the_owner, delete_group_key, delete_group]


@pytest.mark.parametrize("change", MEMBER_CHANGES, ids=lambda change: change.__name__)
def test_a_change_to_the_callers_group_is_seen_by_the_next_call(
    change: Callable[[User, User, Organization], None],
    version_store: str,
    owner: User,
    member: User,
    group: Organization,
    answers: Any,
) -> None:
    store_group_key(owner, group, raw=GROUP_KEY)
    client = make_client(member)
    assert served(client) == served(client) == (200, "group")  # warm
    change(owner, member, group)
    assert served(client) == (400, "no_key_for_provider")


def test_a_page_session_sees_a_removed_membership_on_its_next_call(
    version_store: str, owner: User, member: User, group: Organization, answers: Any
) -> None:
    store_group_key(owner, group, raw=GROUP_KEY)
    client = APIClient()
    client.force_login(member)
    assert served(client) == served(client) == (200, "group")
    membership_remove(actor=owner, org=group, username=member.username)
    assert served(client) == (400, "no_key_for_provider")


def test_a_role_change_moves_the_version_on(version_store: str, owner: User, member: User, group: Organization) -> None:
    before = hotcache.version_read()
    membership_set(actor=owner, org=group, username=member.username, role=Membership.Role.ADMIN)
    assert hotcache.version_read() > before


def test_signing_in_leaves_the_caches_alone(version_store: str, owner: User) -> None:
    before = hotcache.version_read()
    APIClient().login(username=owner.username, password=f"pw-{owner.username}")
    assert hotcache.version_read() == before


def test_a_change_that_moves_no_version_is_not_seen_so_the_cache_is_really_used(
    version_store: str, owner: User, group: Organization, own_key: ProviderKey, answers: Any
) -> None:
    store_group_key(owner, group, raw=GROUP_KEY)
    client = make_client(owner)
    assert served(client) == served(client) == (200, "user")
    # A queryset update sends no signal: nothing tells the caches (no code path in the service does this).
    ProviderKey.objects.filter(pk=own_key.pk).update(status=ProviderKey.Status.REVOKED)
    assert served(client) == (200, "user")
    hotcache.version_bump()
    assert served(client) == (200, "group")


def test_a_stale_call_is_counted_once(
    version_store: str, owner: User, own_key: ProviderKey, answers: Any, settings: SettingsWrapper
) -> None:
    settings.BYOK_RATE_LIMIT_USER = "3/min"
    client = make_client(owner)
    assert served(client) == (200, "user")
    hotcache.version_bump()  # the next call finds its cached data stale, reloads it, then counts
    assert served(client) == (200, "user")
    assert served(client) == (200, "user")
    assert served(client) == (429, "rate_limit_user")


# ---- What the cache holds ----------------------------------------------------------------------------


def test_the_caches_hold_neither_the_api_token_nor_a_provider_key(
    owner: User, member: User, group: Organization, own_key: ProviderKey, answers: Any
) -> None:
    store_group_key(owner, group, raw=GROUP_KEY)
    clients = [make_client(owner), make_client(member)]
    for client in clients:
        assert infer(client).status_code == 200
    caches = {cache.name: dict(cache._entries) for cache in hotcache._caches}
    assert all(caches.values()), caches.keys()  # both caches hold entries
    blob = pickle.dumps(caches)
    for secret in [OPENAI_KEY, GROUP_KEY, *(c.token for c in clients)]:  # type: ignore[attr-defined]
        assert secret.encode() not in blob
    digests = {hashlib.sha256(c.token.encode()).hexdigest() for c in clients}  # type: ignore[attr-defined]
    assert set(caches["api tokens"]) == digests


@pytest.mark.django_db(transaction=True)
def test_the_version_moves_on_when_the_change_commits_not_before(owner: User, own_key: ProviderKey) -> None:
    before = hotcache.version_read()
    with transaction.atomic():
        provider_key_revoke(actor=owner, key=own_key)
        # Before the commit another process could still read the key as it was, and would file it
        # under the new version if the version moved now.
        assert hotcache.version_read() == before
    assert hotcache.version_read() > before
