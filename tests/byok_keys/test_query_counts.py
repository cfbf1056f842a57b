from __future__ import annotations

from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext

from byok_keys.services import AllowedUsers, KeyOwner, provider_key_set
from groups.models import User
from groups.services import group_create
from tests.factories import OPENAI_KEY, join_group


def count_queries(client: Any) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get("/api/byok/keys")
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_get_keys_query_count_does_not_grow_with_keys_and_groups(client_for: Any, owner: User, make_user: Any) -> None:
    provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY)
    client = client_for(owner)
    client.get("/api/byok/keys")  # first use of the token records last_used_at
    small = count_queries(client)

    other = make_user("peer")
    for i in range(10):
        org = group_create(actor=owner, slug=f"team-{i}", name=f"Team {i}")
        join_group(owner=owner, group=org, user=other)
        for provider in ("openai", "groq", "mistral", "deepseek"):
            raw = {
                "openai": OPENAI_KEY,
                "groq": "gsk_" + "a" * 52,
                "mistral": "m" * 32,
                "deepseek": "sk-" + "ab" * 16,
            }[provider]
            provider_key_set(
                actor=owner,
                owner=KeyOwner(organization=org),
                provider=provider,
                raw=raw,
                allowed=AllowedUsers.parse(["peer", "olivia"] if provider == "groq" else "all"),
            )
    # 1 user key + 40 group keys across 10 groups; now add personal keys up to 50 keys in all.
    for provider, raw in [
        ("anthropic", "sk-ant-api03-" + "a" * 93 + "AA"),
        ("groq", "gsk_" + "b" * 52),
        ("mistral", "n" * 32),
        ("deepseek", "sk-" + "cd" * 16),
        ("together", "tgp_v1_" + "t" * 40),
        ("fireworks", "fw_" + "f" * 30),
        ("openrouter", "sk-or-v1-" + "0a" * 32),
        ("xai", "xai-" + "x" * 80),
        ("cohere", "c" * 40),
    ]:
        provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider=provider, raw=raw)
    body = client.get("/api/byok/keys").json()
    assert len(body["keys"]) + len(body["groupKeys"]) == 50
    assert len(body["groups"]) == 10
    assert count_queries(client) == small
