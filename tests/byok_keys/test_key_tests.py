from __future__ import annotations

from typing import Any

import responses
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from groups.models import AuditEvent, Organization, User
from tests.factories import GROQ_KEY, OPENAI_KEY

MODELS_URL = "https://api.openai.com/v1/models"
GROQ_URL = "https://api.groq.com/openai/v1/models"


def test_testing_a_stored_key_updates_status_and_last_validated(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, MODELS_URL, status=503)  # stored unverified
    provider_mock.add(responses.GET, MODELS_URL, json={"data": []})
    api.post("/api/byok/keys/openai", {"apiKey": OPENAI_KEY}, format="json")
    assert ProviderKey.objects.get(user=owner).last_validated_at is None
    response = api.post("/api/byok/keys/openai/test", {}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert (body["provider"], body["status"]) == ("openai", "valid")
    assert body["reason"]
    assert body["lastValidatedAt"] is not None
    key = ProviderKey.objects.get(user=owner)
    assert key.status == "valid"
    assert key.last_validated_at is not None
    assert AuditEvent.objects.filter(action="key.status_changed", target_id=key.key_id).exists()


def test_testing_a_key_in_the_body_stores_nothing(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, MODELS_URL, status=401, json={"error": {"message": "Incorrect API key"}})
    response = api.post("/api/byok/keys/openai/test", {"apiKey": OPENAI_KEY}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "invalid"
    assert not ProviderKey.objects.exists()


def test_testing_without_a_stored_key_is_404(api: APIClient) -> None:
    response = api.post("/api/byok/keys/openai/test", {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "key_not_found"


def test_testing_a_malformed_key_is_400(api: APIClient) -> None:
    response = api.post("/api/byok/keys/openai/test", {"apiKey": "nope"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_key_format"


def test_a_stored_key_found_invalid_by_a_test_becomes_invalid(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, MODELS_URL, json={"data": []})
    provider_mock.add(responses.GET, MODELS_URL, status=401, json={"error": {"message": "Incorrect API key"}})
    api.post("/api/byok/keys/openai", {"apiKey": OPENAI_KEY}, format="json")
    body = api.post("/api/byok/keys/openai/test", {}, format="json").json()
    assert body["status"] == "invalid"
    assert ProviderKey.objects.get(user=owner).status == "invalid"


def test_group_owner_tests_the_group_key(
    client_for: Any, owner: User, group: Organization, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, GROQ_URL, json={"data": []})
    provider_mock.add(responses.GET, GROQ_URL, status=429, headers={"Retry-After": "7"})
    client = client_for(owner)
    assert client.post("/api/byok/groups/acme/keys/groq", {"apiKey": GROQ_KEY}, format="json").status_code == 201
    body = client.post("/api/byok/groups/acme/keys/groq/test", {}, format="json").json()
    assert body["status"] == "unverified"
    assert body["retryAfter"] == 7
    # A rate-limited check changes nothing that was stored.
    assert ProviderKey.objects.get(organization=group).status == "valid"


def test_group_key_test_is_for_managers_only(
    client_for: Any, member: User, outsider: User, group: Organization
) -> None:
    assert client_for(member).post("/api/byok/groups/acme/keys/groq/test", {}, format="json").status_code == 403
    assert client_for(outsider).post("/api/byok/groups/acme/keys/groq/test", {}, format="json").status_code == 404
