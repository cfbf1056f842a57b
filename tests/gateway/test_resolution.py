"""Key resolution: own key, then group key (named group, else default group first, then by id), then
the system key; invalid keys skipped; ENABLE_BYOK=false uses system keys only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import override_settings

from byok_keys.models import ProviderKey
from byok_keys.services import AllowedUsers, KeyOwner, provider_key_set
from gateway.resolution import resolve_candidates
from groups.models import Organization, User
from groups.services import group_create
from tests.factories import OPENAI_KEY, OPENAI_MODELS_URL, SYSTEM_OPENAI_KEY, join_group


def store(owner: KeyOwner, actor: User, key: str = OPENAI_KEY, **kw: Any) -> ProviderKey:
    return provider_key_set(actor=actor, owner=owner, provider="openai", raw=key, **kw).key


def sources(user: User, group: str | None = None) -> list[tuple[str, str | None]]:
    return [
        (c.source, c.group.slug if c.group else None)
        for c in resolve_candidates(user=user, provider="openai", group_slug=group)
    ]


def test_own_key_comes_first_then_group_keys(owner: User, member: User, group: Organization) -> None:
    store(KeyOwner(organization=group), owner)
    assert sources(member) == [("group", "acme")]
    store(KeyOwner(user=member), member)
    assert sources(member) == [("user", None), ("group", "acme")]


def test_default_group_first_then_groups_by_id(owner: User, member: User, group: Organization) -> None:
    for slug in ("zeta", "beta"):
        org = group_create(actor=owner, slug=slug, name=slug)
        join_group(owner=owner, group=org, user=member)
        store(KeyOwner(organization=org), owner)
    store(KeyOwner(organization=group), owner)
    assert User.objects.get(pk=member.pk).default_group == group
    assert sources(member) == [("group", "acme"), ("group", "beta"), ("group", "zeta")]


def test_a_named_group_is_the_only_group_tried(owner: User, member: User, group: Organization) -> None:
    other = group_create(actor=owner, slug="beta", name="Beta")
    join_group(owner=owner, group=other, user=member)
    store(KeyOwner(organization=group), owner)
    store(KeyOwner(organization=other), owner)
    assert sources(member, "beta") == [("group", "beta")]


def test_naming_a_group_you_are_not_in_is_404(client_for: Any, outsider: User, group: Organization) -> None:
    response = client_for(outsider).get("/api/byok/resolve?provider=openai&group=acme")
    assert response.status_code == 404


def test_member_not_in_allowed_users_cannot_use_group_key(
    owner: User, member: User, group_admin: User, group: Organization
) -> None:
    store(KeyOwner(organization=group), owner, allowed=AllowedUsers(("adam",)))
    assert sources(group_admin) == [("group", "acme")]
    assert sources(member) == []


def test_invalid_and_revoked_keys_are_skipped(owner: User, member: User, group: Organization) -> None:
    own = store(KeyOwner(user=member), member)
    shared = store(KeyOwner(organization=group), owner)
    ProviderKey.objects.filter(pk=own.pk).update(status="invalid")
    assert sources(member) == [("group", "acme")]
    ProviderKey.objects.filter(pk=shared.pk).update(status="revoked")
    assert sources(member) == []


def test_system_key_comes_last_when_allowed(monkeypatch: pytest.MonkeyPatch, owner: User) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SYSTEM_OPENAI_KEY)
    with override_settings(BYOK_ALLOW_SYSTEM_KEYS=False):
        assert sources(owner) == []
    with override_settings(BYOK_ALLOW_SYSTEM_KEYS=True):
        assert sources(owner) == [("system", None)]
        store(KeyOwner(user=owner), owner)
        assert sources(owner) == [("user", None), ("system", None)]


def test_enable_byok_false_uses_system_keys_only(monkeypatch: pytest.MonkeyPatch, owner: User) -> None:
    store(KeyOwner(user=owner), owner)
    monkeypatch.setenv("OPENAI_API_KEY", SYSTEM_OPENAI_KEY)
    with override_settings(ENABLE_BYOK=False, BYOK_ALLOW_SYSTEM_KEYS=True):
        assert sources(owner) == [("system", None)]
    with override_settings(ENABLE_BYOK=False, BYOK_ALLOW_SYSTEM_KEYS=False):
        assert sources(owner) == []


def test_resolve_endpoint_answers_without_calling_anyone(
    client_for: Any, owner: User, member: User, group: Organization
) -> None:
    store(KeyOwner(organization=group), owner)
    response = client_for(member).get("/api/byok/resolve?provider=openai")
    assert response.status_code == 200
    body = response.json()
    assert (body["keySource"], body["groupId"], body["isBYOK"]) == ("group", "acme", True)
    assert body["keyId"].startswith("byok_group_openai_")
    assert response["X-BYOK-Key-Source"] == "group"


def test_no_key_is_a_400_that_lists_usable_providers(client_for: Any, owner: User) -> None:
    provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="groq", raw="gsk_" + "a" * 52)
    response = client_for(owner).get("/api/byok/resolve?provider=openai")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "no_key_for_provider"
    assert "groq" in body["error"]
    assert body["usableProviders"] == ["groq"]


def test_unknown_provider_is_a_400(client_for: Any, owner: User) -> None:
    assert client_for(owner).get("/api/byok/resolve?provider=nope").json()["code"] == "unknown_provider"


def test_resolution_after_two_failed_revalidations_skips_the_key(owner: User, provider_mock: Any) -> None:
    import responses
    from django.core.management import call_command

    key = store(KeyOwner(user=owner), owner)
    for _ in range(2):
        provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=401, json={"error": {"message": "bad"}})
        call_command("byok_revalidate", stdout=None)
    key.refresh_from_db()
    assert key.status == "invalid"
    assert sources(owner) == []
