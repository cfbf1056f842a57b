"""Regression tests for problems found in review: echoed keys, revocation, sharing on replacement,
stale verdicts, deleted keys during a call, broken streams, start-up checks, tunnelled SSRF."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from byok_keys.services import KeyOwner, provider_key_revoke, provider_key_set
from gateway.models import UsageRecord
from gateway.usage import usage_record_call
from groups.models import AuditEvent, Organization, User
from providers import ssrf
from providers.chat import ChatChunk, Usage
from tests.factories import OPENAI_KEY

MISTRAL_KEY = "Zx9" * 11  # no prefix: the generic log filter cannot recognise it
MISTRAL_CHAT = "https://api.mistral.ai/v1/chat/completions"
OPENAI_CHAT = "https://api.openai.com/v1/chat/completions"
ROOT = Path(__file__).resolve().parent.parent


def test_a_key_echoed_by_the_provider_reaches_no_member_log_or_audit(
    client_for: Any, owner: User, member: User, group: Organization, provider_mock: responses.RequestsMock
) -> None:
    provider_key_set(actor=owner, owner=KeyOwner(organization=group), provider="mistral", raw=MISTRAL_KEY)
    provider_mock.add(
        responses.POST, MISTRAL_CHAT, status=401, json={"message": f"Invalid API key provided: {MISTRAL_KEY}"}
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


def test_a_key_echoed_during_validation_is_redacted_from_the_reason(
    api: APIClient, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(
        responses.GET,
        "https://api.mistral.ai/v1/models",
        status=401,
        json={"message": f"Unauthorized key {MISTRAL_KEY[:20]}"},
    )
    response = api.post("/api/byok/keys/mistral/test", {"apiKey": MISTRAL_KEY}, format="json")
    assert response.json()["status"] == "invalid"
    assert MISTRAL_KEY[:20] not in response.content.decode()


@pytest.mark.parametrize("bad", ["sk-proj-abc\u2010defghijklmnopqrstuvwxyz", "gsk_" + "a" * 40 + "\u00e9" + "b" * 11])
def test_keys_with_non_ascii_characters_are_refused(api: APIClient, bad: str) -> None:
    provider = "openai" if bad.startswith("sk-") else "groq"
    response = api.post(f"/api/byok/keys/{provider}", {"apiKey": bad}, format="json")
    assert response.status_code == 400
    assert "not plain ASCII" in response.json()["error"]


def test_a_revoked_key_stays_revoked_when_its_owner_tests_it(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    key = provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY).key
    provider_key_revoke(actor=owner, key=key)
    provider_mock.add(responses.GET, "https://api.openai.com/v1/models", json={"data": []})
    assert api.post("/api/byok/keys/openai/test", {}, format="json").json()["keyStatus"] == "revoked"
    assert ProviderKey.objects.get(pk=key.pk).status == "revoked"


def test_replacing_a_group_key_without_allowed_users_keeps_the_list(
    client_for: Any, owner: User, member: User, group_admin: User, group: Organization
) -> None:
    client = client_for(owner)
    client.post("/api/byok/groups/acme/keys/openai", {"apiKey": OPENAI_KEY, "allowedUsers": ["adam"]}, format="json")
    response = client.post("/api/byok/groups/acme/keys/openai", {"apiKey": OPENAI_KEY[:-4] + "NEW1"}, format="json")
    assert response.status_code == 200
    key = ProviderKey.objects.get(organization=group)
    assert key.allow_all_members is False
    assert [u.username for u in key.allowed_users.all()] == ["adam"]
    assert key.last4 == "NEW1"


def test_a_verdict_about_a_replaced_secret_is_ignored(owner: User) -> None:
    from byok_keys.services import provider_key_record_check
    from providers.validation import KeyStatus, ValidationResult

    old = provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY).key
    provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY[:-4] + "NEW1")
    provider_key_record_check(key=old, result=ValidationResult(KeyStatus.INVALID, "bad"), actor=None)
    assert ProviderKey.objects.get(user=owner).status == "unverified"


def test_usage_is_recorded_even_if_the_key_was_deleted_during_the_call(owner: User) -> None:
    key = provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY).key
    ProviderKey.objects.filter(pk=key.pk).delete()
    record = usage_record_call(
        user=owner,
        provider="openai",
        model="m",
        source="user",
        key=key,
        key_label=key.key_id,
        organization=None,
        usage=Usage(1, 1, 2),
        status="ok",
        latency_ms=5,
    )
    assert record.provider_key is None
    assert record.key_label == key.key_id


def test_a_stream_that_breaks_off_ends_with_an_error_event_and_is_recorded_as_failed(
    api: APIClient, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from providers.adapters.openai_compat import OpenAICompatibleAdapter

    key = provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY).key

    def broken(self: Any, request: Any) -> Any:
        def chunks() -> Any:
            yield ChatChunk(text="Hel")
            raise requests.exceptions.ChunkedEncodingError("connection reset")

        return chunks()

    monkeypatch.setattr(OpenAICompatibleAdapter, "stream_chat", broken)
    response = api.post(
        "/v1/chat/completions",
        {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        format="json",
    )
    body = b"".join(response.streaming_content).decode()
    assert '"content":"Hel"' in body
    assert '"code":"upstream_error"' in body and "broke off" in body
    assert body.rstrip().endswith("data: [DONE]")
    assert UsageRecord.objects.get(provider_key=key).status == "upstream_stream_broken"
    assert ProviderKey.objects.get(pk=key.pk).usage_count == 0


def test_a_decryption_failure_tells_the_caller_nothing_about_master_keys(api: APIClient, owner: User) -> None:
    key = provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY).key
    with override_settings(BYOK_ENCRYPTION_KEY="ab" * 32):
        response = api.post("/api/inference", {"provider": "openai", "model": "m", "prompt": "x"}, format="json")
    assert response.status_code == 500
    assert response.json()["code"] == "decryption_failed"
    assert "BYOK_PREVIOUS" not in response.content.decode()
    assert key.sealed_secret.split(":")[2] not in response.content.decode()


def test_malformed_rate_limits_are_a_startup_error() -> None:
    with override_settings(BYOK_RATE_LIMIT_USER="10/0s"), pytest.raises(SystemCheckError, match=r"byok\.E003"):
        call_command("check")


def test_production_refuses_a_malformed_master_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BYOK_", "DJANGO_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "example.com",
            "BYOK_ENCRYPTION_KEY": "nothex",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "PYTHONPATH": str(ROOT),
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "64 hex characters" in result.stderr


@pytest.mark.parametrize(
    "address",
    ["2002:7f00:1::1", "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:80ff:fffe", "fc00::1", "::ffff:10.0.0.1"],
)
def test_tunnelled_and_unique_local_ipv6_addresses_are_refused(address: str) -> None:
    assert ssrf.address_problem(address) is not None


def test_upstream_rate_limit_without_retry_after_still_sends_one(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY)
    provider_mock.add(responses.POST, OPENAI_CHAT, status=429, json={"error": {"message": "slow down"}})
    response = api.post("/api/inference", {"provider": "openai", "model": "m", "prompt": "x"}, format="json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response["X-BYOK-Key-Source"] == "user"


@pytest.mark.parametrize(
    "echo",
    [
        "key 'Zx9Zx9Zx9Zx9Zx...' is invalid",
        "Invalid (apikey=Zx9Zx9Zx9Zx9Zx)",
        "bad key: Zx9Zx9Zx9.",
        "token=...9Zx9Zx9Zx9Zx9",
    ],
)
def test_short_pieces_of_a_key_glued_to_punctuation_are_redacted(echo: str) -> None:
    from providers.registry import get_adapter_class

    adapter = get_adapter_class("mistral")("Zx9" * 11)
    assert "Zx9Zx9Zx9" not in adapter.redact(echo)


def test_redaction_leaves_model_names_and_key_ids_alone() -> None:
    from providers.registry import get_adapter_class

    adapter = get_adapter_class("mistral")(MISTRAL_KEY)
    text = (
        "The model `meta-llama/llama-4-maverick-17b-128e-instruct` does not exist (byok_user_openai_5134bd835dc28162)"
    )
    assert adapter.redact(text) == text


def test_an_error_in_the_middle_of_a_stream_is_redacted(
    api: APIClient, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from providers.adapters.openai_compat import OpenAICompatibleAdapter
    from providers.chat import UpstreamError

    provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY)

    def broken(self: Any, request: Any) -> Any:
        def chunks() -> Any:
            yield ChatChunk(text="Hi")
            raise UpstreamError(f"overloaded while serving {OPENAI_KEY[10:30]}")

        return chunks()

    monkeypatch.setattr(OpenAICompatibleAdapter, "stream_chat", broken)
    response = api.post(
        "/v1/chat/completions",
        {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        format="json",
    )
    body = b"".join(response.streaming_content).decode()
    assert "overloaded" in body
    assert OPENAI_KEY[10:30] not in body


def test_a_revoked_secret_cannot_be_stored_again(api: APIClient, owner: User, superuser: User) -> None:
    key = provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY).key
    provider_key_revoke(actor=superuser, key=key)
    response = api.post("/api/byok/keys/openai", {"apiKey": OPENAI_KEY}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "key_revoked"
    # A new secret replaces the revoked one.
    assert api.post("/api/byok/keys/openai", {"apiKey": OPENAI_KEY[:-4] + "NEW1"}, format="json").status_code == 200


def test_allowed_users_naming_an_invitee_says_they_have_not_accepted(
    client_for: Any, owner: User, outsider: User, group: Organization
) -> None:
    client = client_for(owner)
    client.post("/api/byok/groups/acme/users/oscar", {}, format="json")
    response = client.post(
        "/api/byok/groups/acme/keys/openai", {"apiKey": OPENAI_KEY, "allowedUsers": ["oscar"]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "allowed_user_not_accepted"


def test_usage_is_recorded_even_if_the_group_was_deleted_during_the_call(owner: User, group: Organization) -> None:
    key = provider_key_set(actor=owner, owner=KeyOwner(organization=group), provider="openai", raw=OPENAI_KEY).key
    Organization.objects.filter(pk=group.pk).delete()
    record = usage_record_call(
        user=owner,
        provider="openai",
        model="m",
        source="group",
        key=key,
        key_label=key.key_id,
        organization=group,
        usage=Usage(1, 1, 2),
        status="ok",
        latency_ms=5,
    )
    assert record.organization is None and record.provider_key is None


def test_a_key_test_after_a_master_key_change_names_no_master_key(api: APIClient, owner: User) -> None:
    provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY)
    with override_settings(BYOK_ENCRYPTION_KEY="ab" * 32):
        body = api.post("/api/byok/keys/openai/test", {}, format="json").json()
    assert body["status"] == "unverified"
    assert "master keys" in body["reason"] and "BYOK_PREVIOUS" not in body["reason"]


def test_non_ascii_urls_are_not_refused_as_keys() -> None:
    from providers.registry import get_adapter_class

    parsed = get_adapter_class("ollama").parse_credential({"base_url": "https://bücher.example/"})
    assert parsed == {"base_url": "https://bücher.example"}


@pytest.mark.parametrize("value", ["10/00s", "00/min", "0/min"])
def test_zero_rates_are_refused(value: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    from gateway.ratelimit import Rate

    with pytest.raises(ImproperlyConfigured):
        Rate.parse(value, setting="BYOK_RATE_LIMIT_USER")
