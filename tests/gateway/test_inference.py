from __future__ import annotations

import json
from typing import Any

import pytest
import responses
from django.test import override_settings
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from byok_keys.services import KeyOwner, provider_key_set
from gateway.models import UsageRecord
from groups.models import AuditEvent, Organization, User
from tests.factories import (
    MISTRAL_CHAT_URL,
    MISTRAL_KEY,
    OPENAI_CHAT_URL,
    OPENAI_KEY,
    SYSTEM_OPENAI_KEY,
    shown_key,
    store_group_key,
)

GROUP_KEY = OPENAI_KEY[:-6] + "Group1"


def completion(text: str = "Hello!", prompt: int = 5, completion_tokens: int = 2) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt + completion_tokens,
        },
    }


@pytest.fixture
def own_key(owner: User) -> ProviderKey:
    return provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY).key


@pytest.fixture
def group_key(owner: User, group: Organization) -> ProviderKey:
    return provider_key_set(actor=owner, owner=KeyOwner(organization=group), provider="openai", raw=GROUP_KEY).key


def chat_calls(mock: responses.RequestsMock) -> list[Any]:
    """The chat requests sent (the validation GETs made while storing keys are left out)."""
    return [c.request for c in mock.calls if c.request.method == "POST"]


def infer(client: APIClient, **body: Any) -> Any:
    payload = {"provider": "openai", "model": "gpt-4o-mini", "prompt": "Hi", **body}
    return client.post("/api/inference", payload, format="json")


def test_inference_uses_the_callers_key_and_reports_it(
    api: APIClient, own_key: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion())
    response = infer(api, max_tokens=20, temperature=0.5)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True
    assert body["text"] == "Hello!"
    assert body["usage"] == {"promptTokens": 5, "completionTokens": 2, "totalTokens": 7}
    assert (body["keySource"], body["keyId"], body["isBYOK"]) == ("user", own_key.key_id, True)
    assert body["attempts"][0]["status"] == "ok"
    assert isinstance(body["latencyMs"], int)
    assert response["X-BYOK-Key-Source"] == "user"
    sent = chat_calls(provider_mock)[0]
    assert sent.headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    assert json.loads(sent.body) == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 20,
        "temperature": 0.5,
    }
    assert OPENAI_KEY not in response.content.decode()


def test_inference_counts_usage_on_the_key_and_in_stats(
    api: APIClient, own_key: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion())
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion(prompt=10, completion_tokens=4))
    infer(api)
    infer(api, messages=[{"role": "system", "content": "Be brief"}, {"role": "user", "content": "Hi"}])
    shown = shown_key(pk=own_key.pk)
    assert shown.current_usage_count == 2
    assert shown.current_last_used_at is not None
    record = UsageRecord.objects.filter(status="ok").first()
    assert record is not None and record.provider == "openai" and record.source == "user"
    stats = api.get("/api/byok/stats").json()["stats"]
    assert stats["totalUsage"] == 2
    assert stats["tokens"] == {"promptTokens": 15, "completionTokens": 6, "totalTokens": 21}
    assert stats["byProvider"]["openai"]["calls"] == 2


def test_group_key_usage_counts_for_the_member_and_the_group(
    client_for: Any, owner: User, member: User, group_key: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion())
    response = infer(client_for(member))
    assert response.json()["keySource"] == "group"
    assert response.json()["groupId"] == "acme"
    assert chat_calls(provider_mock)[0].headers["Authorization"] == f"Bearer {GROUP_KEY}"
    assert client_for(member).get("/api/byok/stats").json()["stats"]["totalUsage"] == 1
    usage = client_for(owner).get("/api/byok/groups/acme/usage").json()
    assert usage["totalCalls"] == 1
    assert usage["members"][0]["userId"] == "mia"
    assert usage["members"][0]["byProvider"]["openai"]["totalTokens"] == 7
    assert client_for(member).get("/api/byok/groups/acme/usage").status_code == 403


def test_failover_tries_the_next_key_and_lists_attempts(
    api: APIClient, own_key: ProviderKey, group_key: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, status=429, json={"error": {"message": "Rate limit reached"}})
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion("from group"))
    body = infer(api).json()
    assert body["text"] == "from group"
    assert body["keySource"] == "group"
    assert [a["status"] for a in body["attempts"]] == ["upstream_rate_limited", "ok"]
    assert [a["keySource"] for a in body["attempts"]] == ["user", "group"]
    auths = [r.headers["Authorization"] for r in chat_calls(provider_mock)]
    assert auths == [f"Bearer {OPENAI_KEY}", f"Bearer {GROUP_KEY}"]
    assert UsageRecord.objects.filter(status="upstream_rate_limited").count() == 1


@override_settings(BYOK_FAILOVER=False)
def test_without_failover_the_first_error_is_returned(
    api: APIClient, own_key: ProviderKey, group_key: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(
        responses.POST,
        OPENAI_CHAT_URL,
        status=429,
        headers={"Retry-After": "12"},
        json={"error": {"message": "slow down"}},
    )
    response = infer(api)
    assert response.status_code == 429
    assert response["Retry-After"] == "12"
    assert response.json()["code"] == "upstream_rate_limited"
    assert len(response.json()["attempts"]) == 1


def test_bad_key_is_502_and_marks_the_key_invalid(
    api: APIClient, own_key: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(
        responses.POST,
        OPENAI_CHAT_URL,
        status=401,
        json={"error": {"message": "Incorrect API key provided: sk-proj-****abcd"}},
    )
    response = infer(api)
    assert response.status_code == 502
    assert response.json()["code"] == "upstream_auth_failed"
    assert OPENAI_KEY not in response.content.decode()
    own_key.refresh_from_db()
    assert own_key.status == "invalid"
    # The invalid key is now skipped.
    assert infer(api).json()["code"] == "no_key_for_provider"


def test_a_group_key_echoed_in_a_provider_error_reaches_no_member_response_audit_or_usage_row(
    client_for: Any, owner: User, member: User, group: Organization, provider_mock: responses.RequestsMock
) -> None:
    store_group_key(owner, group, provider="mistral", raw=MISTRAL_KEY)
    provider_mock.add(
        responses.POST, MISTRAL_CHAT_URL, status=401, json={"message": f"Invalid API key provided: {MISTRAL_KEY}"}
    )
    client = client_for(member)
    response = client.post(
        "/api/inference", {"provider": "mistral", "model": "mistral-small", "prompt": "x"}, format="json"
    )
    assert response.status_code == 502
    pages = [
        response.content.decode(),
        client.get("/api/byok/keys").content.decode(),
        client.get("/api/byok/groups/acme").content.decode(),
        json.dumps(list(AuditEvent.objects.values("details"))),
        json.dumps(list(ProviderKey.objects.values("status_reason"))),
        json.dumps(list(UsageRecord.objects.values()), default=str),
    ]
    for page in pages:
        assert MISTRAL_KEY not in page
        assert MISTRAL_KEY[:16] not in page
    assert ProviderKey.objects.get(organization=group).status == "invalid"


def test_an_upstream_429_without_retry_after_still_gets_a_retry_after(
    api: APIClient, own_key: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, status=429, json={"error": {"message": "slow down"}})
    response = infer(api, model="m", prompt="x")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response["X-BYOK-Key-Source"] == "user"


def test_a_decryption_failure_tells_the_caller_nothing_about_master_keys(api: APIClient, own_key: ProviderKey) -> None:
    with override_settings(BYOK_ENCRYPTION_KEY="ab" * 32):
        response = infer(api, model="m", prompt="x")
    assert response.status_code == 500
    assert response.json()["code"] == "decryption_failed"
    assert "BYOK_PREVIOUS" not in response.content.decode()
    assert own_key.sealed_secret.split(":")[2] not in response.content.decode()


def test_upstream_timeout_is_504(api: APIClient, own_key: ProviderKey, provider_mock: responses.RequestsMock) -> None:
    import requests

    provider_mock.add(responses.POST, OPENAI_CHAT_URL, body=requests.exceptions.ReadTimeout("slow"))
    response = infer(api)
    assert response.status_code == 504
    assert response.json()["code"] == "upstream_timeout"


def test_unknown_model_is_400_with_the_providers_message(
    api: APIClient, own_key: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(
        responses.POST,
        OPENAI_CHAT_URL,
        status=404,
        json={
            "error": {
                "message": "The model `gpt-9` does not exist or you do not have access to it.",
                "code": "model_not_found",
            }
        },
    )
    response = infer(api, model="gpt-9")
    assert response.status_code == 400
    assert "gpt-9" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"provider": None}, "missing_provider"),
        ({"model": ""}, "missing_model"),
        ({"prompt": None}, "missing_prompt"),
        ({"messages": [{"role": "robot", "content": "x"}]}, "invalid_messages"),
        ({"max_tokens": 0}, "invalid_max_tokens"),
        ({"temperature": 5}, "invalid_temperature"),
        ({"provider": "nope"}, "unknown_provider"),
    ],
)
def test_bad_inference_input_is_a_clear_400(
    api: APIClient, own_key: ProviderKey, body: dict[str, Any], code: str
) -> None:
    payload = {"provider": "openai", "model": "gpt-4o-mini", "prompt": "Hi", **body}
    payload = {k: v for k, v in payload.items() if v is not None}
    response = api.post("/api/inference", payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_no_key_is_400_no_key_for_provider(api: APIClient) -> None:
    response = infer(api)
    assert response.status_code == 400
    assert response.json()["code"] == "no_key_for_provider"


def test_system_key_serves_when_allowed(
    api: APIClient, monkeypatch: pytest.MonkeyPatch, provider_mock: responses.RequestsMock
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SYSTEM_OPENAI_KEY)
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion())
    with override_settings(BYOK_ALLOW_SYSTEM_KEYS=True):
        body = infer(api).json()
    assert (body["keySource"], body["isBYOK"], body["keyId"]) == ("system", False, "system:OPENAI_API_KEY")
    assert chat_calls(provider_mock)[0].headers["Authorization"] == f"Bearer {SYSTEM_OPENAI_KEY}"
    # System-key calls are not the caller's BYOK usage.
    assert api.get("/api/byok/stats").json()["stats"]["totalUsage"] == 0


@override_settings(BYOK_RATE_LIMIT_USER="2/min")
def test_user_rate_limit_is_429_with_retry_after(
    version_store: str, api: APIClient, own_key: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    from django.core.cache import cache

    cache.clear()
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion())
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion())
    assert infer(api).status_code == 200
    assert infer(api).status_code == 200
    response = infer(api)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limit_user"
    assert 1 <= int(response["Retry-After"]) <= 60


@override_settings(BYOK_RATE_LIMIT_KEY="1/min")
def test_key_rate_limit_moves_on_to_the_next_key(
    version_store: str,
    api: APIClient,
    own_key: ProviderKey,
    group_key: ProviderKey,
    provider_mock: responses.RequestsMock,
) -> None:
    from django.core.cache import cache

    cache.clear()
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion("one"))
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion("two"))
    assert infer(api).json()["keySource"] == "user"
    second = infer(api).json()
    assert second["keySource"] == "group"
    assert second["attempts"][0]["status"] == "rate_limit_key"


@override_settings(ENABLE_BYOK=False)
def test_enable_byok_false_never_uses_stored_keys(api: APIClient, own_key: ProviderKey) -> None:
    response = infer(api)
    assert response.status_code == 400
    assert response.json()["code"] == "no_key_for_provider"


def test_v1_gateway_translates_a_native_provider_to_openai_shapes(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    anthropic_key = "sk-ant-api03-" + ("Qw8" * 31) + "AA"
    provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="anthropic", raw=anthropic_key)
    provider_mock.add(
        responses.POST,
        "https://api.anthropic.com/v1/messages",
        json={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": "Bonjour"}],
            "stop_reason": "max_tokens",
            "usage": {"input_tokens": 9, "output_tokens": 3},
        },
    )
    response = api.post(
        "/v1/chat/completions",
        {
            "model": "anthropic/claude-sonnet-4-5",
            "max_tokens": 3,
            "messages": [{"role": "system", "content": "French only"}, {"role": "user", "content": "Hello"}],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "anthropic/claude-sonnet-4-5"
    assert body["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "Bonjour"},
        "finish_reason": "length",
    }
    assert body["usage"] == {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    sent = json.loads(chat_calls(provider_mock)[0].body)
    assert sent["system"] == "French only"
    assert sent["messages"] == [{"role": "user", "content": "Hello"}]
    assert chat_calls(provider_mock)[0].headers["x-api-key"] == anthropic_key


def test_v1_errors_use_openai_error_shape(api: APIClient) -> None:
    response = api.post("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": []}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["code"] == "invalid_model"
    unauthenticated = APIClient().get("/v1/models")
    assert unauthenticated.status_code == 401
    assert unauthenticated.json()["error"]["type"] == "authentication_error"
