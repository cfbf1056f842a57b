"""Two server processes sharing a database (and Redis, when the version lives there): a change made
through one process's API is seen by the very next call to the other, whose caches were warm.

The servers run under gunicorn (tests/live_servers.py) with BYOK_AUTH_CACHE_SECONDS at ten minutes, so
only the shared version can make a change visible in time.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from pytest_django.fixtures import Settings as SettingsWrapper

from byok_keys.models import ProviderKey
from byok_keys.services import KeyOwner, api_token_create, provider_key_set
from groups.models import User
from groups.services import group_create
from tests.factories import join_group
from tests.fake_provider import FakeProvider
from tests.live_servers import Server, database_url, start_server

pytestmark = [pytest.mark.real_http, pytest.mark.django_db(transaction=True)]

PORT_A, PORT_B, PORT_PROVIDER = 8711, 8712, 8713


def openai_key(tag: str) -> str:
    return "sk-proj-" + f"{tag:0>6}" * 4 + "T3BlbkFJ" + f"{tag:0>6}" * 4


@pytest.fixture
def fake(settings: SettingsWrapper) -> Iterator[FakeProvider]:
    with FakeProvider(port=PORT_PROVIDER) as provider:
        settings.BYOK_BASE_URL_OVERRIDES = {"openai": f"{provider.url}/v1"}  # keys stored here are checked live
        yield provider


@pytest.fixture
def servers(version_store: str, fake: FakeProvider, settings: SettingsWrapper) -> Iterator[tuple[Server, Server]]:
    env = {
        "DATABASE_URL": database_url(),
        "REDIS_URL": settings.REDIS_URL,  # empty: the version is in the database
        "BYOK_OPENAI_BASE_URL": f"{fake.url}/v1",
        "BYOK_AUTH_CACHE_SECONDS": "600",
    }
    started: list[Server] = []
    try:
        for port in (PORT_A, PORT_B):
            started.append(start_server(port, env))
        yield started[0], started[1]
    finally:
        for server in started:
            server.stop()


def test_a_change_through_one_process_is_seen_by_the_next_call_to_another(servers: tuple[Server, Server]) -> None:
    a, b = servers
    owner = User.objects.create_user(username="olga", password="x")
    member = User.objects.create_user(username="milo", password="x")
    group = group_create(actor=owner, slug="team", name="Team")
    join_group(owner=owner, group=group, user=member)
    provider_key_set(actor=member, owner=KeyOwner(user=member), provider="openai", raw=openai_key("milo01"))
    provider_key_set(actor=owner, owner=KeyOwner(organization=group), provider="openai", raw=openai_key("team01"))
    _, calling = api_token_create(user=member, name="calls")
    _, managing = api_token_create(user=member, name="manage")
    _, owners = api_token_create(user=owner, name="manage")

    def call(server: Server) -> tuple[int, str]:
        response = requests.post(
            f"{server.url}/api/inference",
            json={"provider": "openai", "model": "gpt-4o-mini", "prompt": "Hi"},
            headers={"Authorization": f"Bearer {calling}"},
            timeout=30,
        )
        body = response.json()
        return response.status_code, body.get("keySource") or body.get("code")

    def through_a(method: str, path: str, token: str, body: Any = None) -> None:
        response = requests.request(
            method, f"{a.url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert response.status_code < 300, response.text

    assert call(a) == call(b) == call(b) == (200, "user")  # both processes warm

    # A change that tells nobody (a queryset update sends no signal) is not seen: B answers from its cache.
    ProviderKey.objects.filter(user=member).update(status=ProviderKey.Status.REVOKED)
    assert call(b) == (200, "user")

    through_a("DELETE", "/api/byok/keys/openai", managing)
    assert call(b) == (200, "group")

    through_a("PATCH", "/api/byok/groups/team/keys/openai", owners, {"allowedUsers": ["olga"]})
    assert call(b) == (400, "no_key_for_provider")

    through_a("PATCH", "/api/byok/groups/team/keys/openai", owners, {"allowedUsers": "all"})
    assert call(b) == call(b) == (200, "group")

    through_a("DELETE", "/api/byok/groups/team/users/milo", owners)
    assert call(b) == (400, "no_key_for_provider")

    through_a("DELETE", f"/api/byok/tokens/{calling.split('.')[0]}", managing)
    assert call(b) == (401, "invalid_token")
