from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from byok_keys.services import provider_key_revoke
from groups.models import AuditEvent, User
from providers.registry import REGISTRY
from tests.factories import ANTHROPIC_KEY, OPENAI_KEY, store_user_key


def post_key(api: APIClient, provider: str, body: Any) -> Any:
    return api.post(f"/api/byok/keys/{provider}", body, format="json")


def test_providers_list_is_public_and_lists_every_registered_provider_once(db: Any) -> None:
    response = APIClient().get("/api/byok/providers")
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert len(body["providers"]) == len(REGISTRY)
    ids = {p["id"] for p in body["providers"]}
    assert ids == set(REGISTRY)
    assert {"openai", "anthropic", "azure", "bedrock", "ollama", "octoai"} <= ids
    azure = next(p for p in body["providers"] if p["id"] == "azure")
    assert azure["requiresConfig"] is True
    assert {f["name"] for f in azure["configFields"]} >= {"endpoint_url", "api_key", "deployment_id"}


def test_storing_a_key_returns_key_id_and_never_the_secret(api: APIClient, owner: User) -> None:
    response = post_key(api, "openai", {"apiKey": OPENAI_KEY, "name": "Work", "description": "team"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["success"] is True
    assert body["provider"] == "openai"
    assert body["keyId"].startswith("byok_user_openai_")
    assert OPENAI_KEY not in response.content.decode()
    key = ProviderKey.objects.get(user=owner, provider="openai")
    assert key.last4 == OPENAI_KEY[-4:]
    assert key.status == ProviderKey.Status.UNVERIFIED
    assert AuditEvent.objects.filter(action="key.created", target_id=key.key_id).exists()


def test_pasted_key_with_trailing_newline_is_trimmed(api: APIClient, owner: User) -> None:
    assert post_key(api, "openai", {"apiKey": OPENAI_KEY + "\n"}).status_code == 201
    assert ProviderKey.objects.get(user=owner).last4 == OPENAI_KEY[-4:]


def test_posting_again_replaces_the_key_with_a_new_key_id(api: APIClient, owner: User) -> None:
    first = post_key(api, "openai", {"apiKey": OPENAI_KEY}).json()["keyId"]
    other = OPENAI_KEY[:-4] + "WXYZ"
    response = post_key(api, "openai", {"apiKey": other, "name": "Rotated"})
    assert response.status_code == 200
    assert response.json()["keyId"] != first
    keys = ProviderKey.objects.filter(user=owner, provider="openai")
    assert keys.count() == 1
    assert keys.get().last4 == "WXYZ"
    assert AuditEvent.objects.filter(action="key.replaced").count() == 1


def test_get_keys_lists_metadata_and_has_user_key(api: APIClient, owner: User) -> None:
    post_key(api, "anthropic", {"apiKey": ANTHROPIC_KEY, "name": "Claude"})
    body = api.get("/api/byok/keys").json()
    assert body["success"] is True
    assert body["userId"] == owner.username
    assert body["groupId"] is None
    row = next(p for p in body["providers"] if p["provider"] == "anthropic")
    assert row == {"provider": "anthropic", "name": row["name"], "hasUserKey": True, "hasGroupKey": False}
    (key,) = body["keys"]
    assert key["name"] == "Claude"
    assert key["last4"] == ANTHROPIC_KEY[-4:]
    assert set(key) >= {
        "keyId",
        "provider",
        "description",
        "status",
        "createdAt",
        "updatedAt",
        "lastUsedAt",
        "usageCount",
    }
    assert ANTHROPIC_KEY not in json.dumps(body)


def test_delete_removes_the_key(api: APIClient, owner: User) -> None:
    post_key(api, "openai", {"apiKey": OPENAI_KEY})
    response = api.delete("/api/byok/keys/openai")
    assert response.status_code == 200
    assert response.json() == {"success": True, "message": "Removed openai key"}
    assert not ProviderKey.objects.filter(user=owner).exists()


def test_delete_without_a_key_is_404(api: APIClient) -> None:
    response = api.delete("/api/byok/keys/openai")
    assert response.status_code == 404
    assert response.json()["code"] == "key_not_found"


@pytest.mark.parametrize(
    ("provider", "body", "code", "text"),
    [
        ("nope", {"apiKey": OPENAI_KEY}, "unknown_provider", "Unknown provider"),
        ("openai", {}, "missing_api_key", "apiKey is required"),
        ("openai", {"apiKey": ""}, "missing_api_key", "apiKey is required"),
        ("openai", {"apiKey": "hello"}, "invalid_key_format", "OpenAI"),
        ("openai", {"apiKey": "sk-proj-abc def-ghijklmnopqrstuvwxyz"}, "invalid_key_format", "whitespace"),
        # A typographic dash or an accented letter pasted from a document is not a key.
        ("openai", {"apiKey": "sk-proj-abc\u2010defghijklmnopqrstuvwxyz"}, "invalid_key_format", "not plain ASCII"),
        ("groq", {"apiKey": "gsk_" + "a" * 40 + "\u00e9" + "b" * 11}, "invalid_key_format", "not plain ASCII"),
        (
            "azure",
            {"apiKey": {"endpoint_url": "https://x.openai.azure.com", "api_key": "a" * 32}},
            "missing_config_field",
            "deployment_id",
        ),
        ("openai", {"apiKey": OPENAI_KEY, "name": "x" * 201}, "invalid_request", "name"),
        ("octoai", {"apiKey": "octo-" + "a" * 30}, "provider_discontinued", "2024-10-31"),
    ],
)
def test_bad_input_gets_a_clear_error_and_changes_nothing(
    api: APIClient, owner: User, provider: str, body: dict[str, Any], code: str, text: str
) -> None:
    response = post_key(api, provider, body)
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["success"] is False
    assert data["code"] == code
    assert text in data["error"]
    assert not ProviderKey.objects.exists()


def test_a_rejected_replacement_leaves_the_stored_key_untouched(api: APIClient, owner: User) -> None:
    post_key(api, "openai", {"apiKey": OPENAI_KEY, "name": "Keep"})
    before = ProviderKey.objects.get(user=owner)
    assert post_key(api, "openai", {"apiKey": "bad"}).status_code == 400
    after = ProviderKey.objects.get(user=owner)
    assert (after.key_id, after.sealed_secret, after.name) == (before.key_id, before.sealed_secret, "Keep")


def test_a_revoked_secret_cannot_be_stored_again(api: APIClient, owner: User, superuser: User) -> None:
    key = store_user_key(owner)
    provider_key_revoke(actor=superuser, key=key)
    response = post_key(api, "openai", {"apiKey": OPENAI_KEY})
    assert response.status_code == 409
    assert response.json()["code"] == "key_revoked"
    # A new secret replaces the revoked one.
    assert post_key(api, "openai", {"apiKey": OPENAI_KEY[:-4] + "NEW1"}).status_code == 200


def test_config_provider_accepts_object_or_json_string(api: APIClient, owner: User) -> None:
    config = {"endpoint_url": "https://acme.openai.azure.com", "api_key": "f" * 32, "deployment_id": "gpt4o"}
    assert post_key(api, "azure", {"apiKey": config}).status_code == 201
    assert post_key(api, "azure", {"apiKey": json.dumps(config)}).status_code == 200
    assert ProviderKey.objects.get(user=owner, provider="azure").last4 == "ffff"


@override_settings(ENABLE_BYOK=False)
def test_enable_byok_false_turns_the_endpoints_off(api: APIClient) -> None:
    response = post_key(api, "openai", {"apiKey": OPENAI_KEY})
    assert response.status_code == 403
    assert response.json()["code"] == "byok_disabled"
    assert "ENABLE_BYOK" in response.json()["error"]
    assert api.get("/api/byok/keys").json()["code"] == "byok_disabled"
    assert not ProviderKey.objects.exists()


def test_patch_renames_a_key_and_keeps_its_secret(api: APIClient, owner: User) -> None:
    post_key(api, "openai", {"apiKey": OPENAI_KEY, "name": "Work"})
    before = ProviderKey.objects.get(user=owner, provider="openai")
    response = api.patch("/api/byok/keys/openai", {"name": "Personal", "description": "for tests"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["key"]["name"] == "Personal"
    after = ProviderKey.objects.get(pk=before.pk)
    assert (after.name, after.description) == ("Personal", "for tests")
    assert (after.key_id, after.sealed_secret) == (before.key_id, before.sealed_secret)


def test_patch_refuses_a_new_secret_and_unknown_fields(api: APIClient, owner: User) -> None:
    post_key(api, "openai", {"apiKey": OPENAI_KEY, "name": "Work"})
    response = api.patch("/api/byok/keys/openai", {"apiKey": OPENAI_KEY}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "unknown_field")
    assert "apiKey" in response.json()["error"]
    blank = api.patch("/api/byok/keys/openai", {"name": ""}, format="json")
    assert blank.status_code == 400
    assert ProviderKey.objects.get(user=owner).name == "Work"


def test_patch_of_a_key_you_do_not_have_is_404(api: APIClient) -> None:
    response = api.patch("/api/byok/keys/openai", {"name": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "key_not_found")
