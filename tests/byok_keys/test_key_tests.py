from __future__ import annotations

from typing import Any

import responses
from django.test import override_settings
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from byok_keys.services import KeyOwner, provider_key_record_validation, provider_key_revoke, provider_key_set
from groups.models import AuditEvent, Organization, User
from providers.validation import KeyStatus, ValidationResult
from tests.factories import (
    GROQ_KEY,
    GROQ_MODELS_URL,
    MISTRAL_KEY,
    MISTRAL_MODELS_URL,
    OPENAI_KEY,
    OPENAI_MODELS_URL,
    store_user_key,
)


def test_testing_a_stored_key_updates_status_and_last_validated(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=503)  # stored unverified
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})
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
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=401, json={"error": {"message": "Incorrect API key"}})
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
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=401, json={"error": {"message": "Incorrect API key"}})
    api.post("/api/byok/keys/openai", {"apiKey": OPENAI_KEY}, format="json")
    body = api.post("/api/byok/keys/openai/test", {}, format="json").json()
    assert body["status"] == "invalid"
    assert ProviderKey.objects.get(user=owner).status == "invalid"


def test_group_owner_tests_the_group_key(
    client_for: Any, owner: User, group: Organization, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, GROQ_MODELS_URL, json={"data": []})
    provider_mock.add(responses.GET, GROQ_MODELS_URL, status=429, headers={"Retry-After": "7"})
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


def test_a_key_echoed_during_validation_is_redacted_from_the_reason(
    api: APIClient, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(
        responses.GET,
        MISTRAL_MODELS_URL,
        status=401,
        json={"message": f"Unauthorized key {MISTRAL_KEY[:20]}"},
    )
    response = api.post("/api/byok/keys/mistral/test", {"apiKey": MISTRAL_KEY}, format="json")
    assert response.json()["status"] == "invalid"
    assert MISTRAL_KEY[:20] not in response.content.decode()


def test_a_revoked_key_stays_revoked_when_its_owner_tests_it(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    key = store_user_key(owner)
    provider_key_revoke(actor=owner, key=key)
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})
    assert api.post("/api/byok/keys/openai/test", {}, format="json").json()["keyStatus"] == "revoked"
    assert ProviderKey.objects.get(pk=key.pk).status == "revoked"


def test_a_verdict_about_a_replaced_secret_is_ignored(owner: User) -> None:
    old = store_user_key(owner)
    provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY[:-4] + "NEW1")
    provider_key_record_validation(key=old, result=ValidationResult(KeyStatus.INVALID, "bad"), actor=None)
    assert ProviderKey.objects.get(user=owner).status == "unverified"


def test_a_key_test_after_a_master_key_change_names_no_master_key(api: APIClient, owner: User) -> None:
    store_user_key(owner)
    with override_settings(BYOK_ENCRYPTION_KEY="ab" * 32):
        body = api.post("/api/byok/keys/openai/test", {}, format="json").json()
    assert body["status"] == "unverified"
    assert "master keys" in body["reason"] and "BYOK_PREVIOUS" not in body["reason"]
