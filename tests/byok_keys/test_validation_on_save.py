from __future__ import annotations

from typing import Any

import pytest
import responses
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from groups.models import AuditEvent, Organization, User
from tests.factories import OPENAI_KEY, OPENAI_MODELS_URL

OTHER_KEY = OPENAI_KEY[:-6] + "Other1"


def post_key(api: APIClient, key: str, provider: str = "openai") -> Any:
    return api.post(f"/api/byok/keys/{provider}", {"apiKey": key}, format="json")


def test_valid_key_is_stored_valid(api: APIClient, owner: User, provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"object": "list", "data": []})
    response = post_key(api, OPENAI_KEY)
    assert response.status_code == 201
    assert response.json()["status"] == "valid"
    assert "warning" not in response.json()
    key = ProviderKey.objects.get(user=owner)
    assert key.status == "valid"
    assert key.last_validated_at is not None
    assert provider_mock.calls[0].request.headers["Authorization"] == f"Bearer {OPENAI_KEY}"


def test_invalid_key_is_refused_and_nothing_is_stored(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(
        responses.GET,
        OPENAI_MODELS_URL,
        status=401,
        json={"error": {"message": "Incorrect API key provided", "code": "invalid_api_key"}},
    )
    response = post_key(api, OPENAI_KEY)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_key"
    assert "OpenAI rejected this key" in body["error"]
    assert OPENAI_KEY not in response.content.decode()
    assert not ProviderKey.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="key.").exists()


def test_saving_an_invalid_key_over_a_valid_one_leaves_the_valid_one(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=401, json={"error": {"message": "Incorrect API key"}})
    assert post_key(api, OPENAI_KEY).status_code == 201
    before = ProviderKey.objects.get(user=owner)
    assert post_key(api, OTHER_KEY).status_code == 400
    after = ProviderKey.objects.get(user=owner)
    assert (after.key_id, after.sealed_secret, after.status, after.last4) == (
        before.key_id,
        before.sealed_secret,
        "valid",
        OPENAI_KEY[-4:],
    )


def test_unverified_key_is_stored_with_a_warning(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=503)
    response = post_key(api, OPENAI_KEY)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "unverified"
    assert "could not be verified" in body["warning"]
    assert ProviderKey.objects.get(user=owner).status == "unverified"


@pytest.mark.parametrize(
    ("status", "payload", "expected"),
    [
        (403, {"error": {"message": "Country, region, or territory not supported"}}, "unverified"),
        (
            401,
            {
                "error": {
                    "message": "You have insufficient permissions for this operation. Missing scopes: api.model.read"
                }
            },
            "restricted",
        ),
        (429, {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}, "no_credit"),
    ],
)
def test_restricted_and_no_credit_keys_are_stored_with_their_status(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock, status: int, payload: Any, expected: str
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=status, json=payload)
    response = post_key(api, OPENAI_KEY)
    assert response.status_code == 201
    assert ProviderKey.objects.get(user=owner).status == expected


def test_billed_only_providers_are_format_checked_and_stored_unverified(api: APIClient, owner: User) -> None:
    # No response registered: any request would fail the test through the provider mock.
    response = post_key(api, "pplx-" + "a1B2" * 12, provider="perplexity")
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "unverified"
    assert "BYOK_ALLOW_BILLED_VALIDATION" in body["warning"]


def test_group_key_save_is_validated_too(
    client_for: Any, owner: User, group: Organization, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=401, json={"error": {"message": "Incorrect API key"}})
    response = client_for(owner).post("/api/byok/groups/acme/keys/openai", {"apiKey": OPENAI_KEY}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_key"
    assert not ProviderKey.objects.filter(organization=group).exists()


def test_user_supplied_url_to_a_private_address_is_refused_with_the_reason(api: APIClient, owner: User) -> None:
    config = {"endpoint_url": "https://internal.example.com", "api_key": "a" * 32, "deployment_id": "gpt"}
    response = api.post("/api/byok/keys/azure", {"apiKey": config}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unsafe_url"
    assert "private address" in response.json()["error"]
    assert not ProviderKey.objects.exists()
