"""``/api/byok/stats``: the caller's own keys, the group keys they can use, and their BYOK usage.
(Usage counted by inference calls is checked in test_inference.py.)"""

from __future__ import annotations

from collections.abc import Callable

from rest_framework.test import APIClient

from groups.models import Organization, User
from tests.factories import ANTHROPIC_KEY, OPENAI_KEY


def test_stats_count_the_callers_own_keys(api: APIClient, owner: User) -> None:
    api.post("/api/byok/keys/openai", {"apiKey": OPENAI_KEY}, format="json")
    api.post("/api/byok/keys/anthropic", {"apiKey": ANTHROPIC_KEY}, format="json")
    body = api.get("/api/byok/stats").json()
    assert body["success"] is True
    assert body["stats"]["userKeys"] == 2
    assert body["stats"]["groupKeys"] == 0
    assert body["stats"]["totalUsage"] == 0


def test_stats_count_the_group_keys_of_a_member(
    client_for: Callable[[User], APIClient], owner: User, member: User, group: Organization
) -> None:
    client_for(owner).post("/api/byok/groups/acme/keys/openai", {"apiKey": OPENAI_KEY}, format="json")
    assert client_for(member).get("/api/byok/stats").json()["stats"]["groupKeys"] == 1
