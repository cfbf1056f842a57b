"""``POST …/keys/:provider/compromised``: revoke now, optional replacement, blast radius, notice."""

from __future__ import annotations

from typing import Any

import responses
from django.core import mail
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from groups.models import AuditEvent, Organization, User
from tests.factories import OPENAI_CHAT_URL, OPENAI_KEY, OPENAI_MODELS_URL, make_client, store_group_key

NEW_KEY = OPENAI_KEY[:-8] + "Replaced"
COMPLETION = {
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


def call(client: APIClient, **extra: Any) -> Any:
    return client.post("/api/inference", {"provider": "openai", "model": "m", "prompt": "hi"}, format="json", **extra)


def test_a_compromised_group_key_is_revoked_its_use_reported_and_admins_told(
    owner: User, member: User, group: Organization, provider_mock: responses.RequestsMock
) -> None:
    owner.email = "olivia@example.com"
    owner.save()
    key = store_group_key(owner, group)
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=COMPLETION)
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=COMPLETION)
    member_api = make_client(member)
    assert call(member_api, REMOTE_ADDR="10.2.3.4").status_code == 200
    assert call(member_api).status_code == 200
    response = make_client(owner).post("/api/byok/groups/acme/keys/openai/compromised", {}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    radius = body["blastRadius"]
    assert body["revokedKeyId"] == key.key_id
    assert (radius["calls"], radius["totalTokens"], radius["users"], radius["groups"]) == (
        2,
        10,
        [member.username],
        ["acme"],
    )
    assert radius["tokens"] == [member_api.token.split(".")[0]]  # type: ignore[attr-defined]
    assert "10.2.3.4" in radius["ips"]
    assert body["notified"] == ["olivia@example.com"] and len(mail.outbox) == 1
    assert key.key_id in mail.outbox[0].body and OPENAI_KEY not in mail.outbox[0].body
    assert ProviderKey.objects.get(pk=key.pk).status == "revoked"
    assert call(member_api).json()["code"] == "no_key_for_provider"  # never used again
    assert AuditEvent.objects.filter(action="key.compromised", target_id=key.key_id).exists()
    assert OPENAI_KEY not in response.content.decode()


def test_a_compromised_key_can_be_replaced_in_the_same_step(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    from tests.factories import store_user_key

    old = store_user_key(owner)
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})  # the replacement's live check
    response = api.post("/api/byok/keys/openai/compromised", {"replacement": NEW_KEY}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["revokedKeyId"] == old.key_id and body["replacement"]["status"] == "valid"
    assert body["replacement"]["last4"] == NEW_KEY[-4:] and body["replacementError"] is None
    key = ProviderKey.objects.get(user=owner)
    assert key.key_id == body["replacement"]["keyId"] != old.key_id
    assert NEW_KEY not in response.content.decode()


def test_a_replacement_the_provider_refuses_is_reported_and_the_key_stays_revoked(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    from tests.factories import store_user_key

    old = store_user_key(owner)
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=401, json={"error": {"message": "Incorrect API key"}})
    body = api.post("/api/byok/keys/openai/compromised", {"replacement": NEW_KEY}, format="json").json()
    assert body["replacement"] is None and "rejected" in body["replacementError"]
    assert ProviderKey.objects.get(pk=old.pk).status == "revoked"


def test_a_badly_shaped_replacement_is_a_400_and_nothing_is_revoked(api: APIClient, owner: User) -> None:
    from tests.factories import store_user_key

    old = store_user_key(owner)
    response = api.post("/api/byok/keys/openai/compromised", {"replacement": "not a key"}, format="json")
    assert response.status_code == 400
    assert ProviderKey.objects.get(pk=old.pk).status != "revoked"


def test_members_cannot_report_a_group_key_and_others_keys_are_404(
    owner: User, member: User, outsider: User, group: Organization
) -> None:
    store_group_key(owner, group)
    assert (
        make_client(member).post("/api/byok/groups/acme/keys/openai/compromised", {}, format="json").status_code == 403
    )
    assert make_client(outsider).post("/api/byok/keys/openai/compromised", {}, format="json").status_code == 404
    assert ProviderKey.objects.get(organization=group).status != "revoked"


def test_the_admin_action_revokes_and_reports_the_blast_radius(superuser: User, owner: User) -> None:
    from django.test import Client
    from django.urls import reverse

    from tests.factories import run_admin_action, store_user_key

    key = store_user_key(owner)
    admin = Client(enforce_csrf_checks=True)
    admin.force_login(superuser)
    changelist = reverse("admin:byok_keys_providerkey_changelist")
    assert run_admin_action(admin, changelist, "mark_compromised", [key]).status_code == 302
    said = [str(m) for m in admin.get(changelist).context["messages"]]
    assert any(text.startswith(f"Revoked {key.key_id}. Since ") and "0 calls" in text for text in said)
    assert ProviderKey.objects.get(pk=key.pk).status == "revoked"
    assert AuditEvent.objects.filter(action="key.compromised", actor=superuser).exists()
