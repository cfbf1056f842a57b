"""``byok_reseal`` and ``--check`` during a master-key rotation, and keys that cannot be decrypted."""

from __future__ import annotations

from io import StringIO
from typing import Any

import responses
from django.core.management import call_command
from rest_framework.test import APIClient

from byok_keys import vault
from byok_keys.models import ProviderKey
from groups.models import AuditEvent, User
from tests.factories import OPENAI_CHAT_URL, OPENAI_KEY, store_group_key, store_user_key

KEY_B = "ff" * 32
KEY_C = "ee" * 32


def run(*args: str) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("byok_reseal", *args, stdout=out, stderr=out)
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue()
    return 0, out.getvalue()


def test_check_counts_keys_per_master_key_and_fails_until_all_are_resealed(
    owner: User, make_user: Any, settings: Any
) -> None:
    store_user_key(owner)
    store_user_key(make_user("nina"))
    old = settings.BYOK_ENCRYPTION_KEY
    settings.BYOK_ENCRYPTION_KEY = KEY_B
    settings.BYOK_PREVIOUS_ENCRYPTION_KEYS = [old]
    code, out = run("--check")
    assert code == 1
    assert "2 not on the current master key" in out and "old: re-seal these): 2 key(s)" in out
    assert run()[0] == 0
    code, out = run("--check")
    assert code == 0 and "0 not on the current master key" in out and "(current): 2 key(s)" in out
    assert run()[1].startswith("Re-encrypted 0 key(s)")  # resumable: a second run has nothing to do


def test_an_undecryptable_key_is_listed_by_check_and_marked_by_reseal(owner: User, settings: Any) -> None:
    key = store_user_key(owner)
    settings.BYOK_ENCRYPTION_KEY = KEY_C  # the key that sealed it is gone
    code, out = run("--check")
    assert code == 1 and f"undecryptable: {key.key_id}" in out
    assert ProviderKey.objects.get(pk=key.pk).status == key.status  # --check changes nothing
    code, out = run()
    assert code == 1
    assert ProviderKey.objects.get(pk=key.pk).status == ProviderKey.Status.UNDECRYPTABLE


def test_a_key_that_opens_again_after_the_fix_is_restored_as_unverified(owner: User, settings: Any) -> None:
    key = store_user_key(owner)
    old = settings.BYOK_ENCRYPTION_KEY
    settings.BYOK_ENCRYPTION_KEY = KEY_B
    assert run()[0] == 1  # the old key is not configured: cannot be opened
    settings.BYOK_PREVIOUS_ENCRYPTION_KEYS = [old]
    assert run()[0] == 0
    key = ProviderKey.objects.get(pk=key.pk)
    assert key.status == ProviderKey.Status.UNVERIFIED
    assert vault.open_credential(key) == OPENAI_KEY


def test_inference_marks_an_undecryptable_key_skips_it_next_time_and_tells_its_owner(
    api: APIClient, owner: User, settings: Any, provider_mock: responses.RequestsMock
) -> None:
    key = store_user_key(owner)
    ProviderKey.objects.filter(pk=key.pk).update(sealed_secret=key.sealed_secret[:-6] + "AAAAAA")  # tampered
    body = {"provider": "openai", "model": "gpt-4o-mini", "prompt": "hi"}
    first = api.post("/api/inference", body, format="json")
    assert first.status_code == 500 and first.json()["code"] == "decryption_failed"
    assert ProviderKey.objects.get(pk=key.pk).status == ProviderKey.Status.UNDECRYPTABLE
    assert AuditEvent.objects.filter(action="key.status_changed", target_id=key.key_id).exists()
    second = api.post("/api/inference", body, format="json")
    assert (second.status_code, second.json()["code"]) == (400, "no_key_for_provider")  # not tried again
    listed = api.get("/api/byok/keys").json()["keys"][0]
    assert listed["status"] == "undecryptable" and "master key" in listed["statusReason"]


def test_resolution_moves_on_to_the_next_key_past_an_undecryptable_one(
    api: APIClient, owner: User, group: Any, provider_mock: responses.RequestsMock
) -> None:
    from byok_keys.services import KeyOwner, provider_key_set

    own = store_user_key(owner)
    provider_key_set(actor=owner, owner=KeyOwner(organization=group), provider="openai", raw=OPENAI_KEY[:-4] + "Grp1")
    ProviderKey.objects.filter(pk=own.pk).update(sealed_secret=own.sealed_secret[:-6] + "AAAAAA")
    provider_mock.add(
        responses.POST,
        OPENAI_CHAT_URL,
        json={"choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]},
    )
    response = api.post("/api/inference", {"provider": "openai", "model": "m", "prompt": "hi"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["keySource"] == "group"
    assert [a["status"] for a in response.json()["attempts"]] == ["decryption_failed", "ok"]
    assert OPENAI_KEY[:-4] not in response.content.decode()


def test_reseal_goes_through_every_batch_audits_each_key_with_its_group_and_keeps_the_chain_intact(
    owner: User, make_user: Any, group: Any, settings: Any, monkeypatch: Any
) -> None:
    from byok_keys.management.commands import byok_reseal
    from groups.audit import audit_chain_verify

    monkeypatch.setattr(byok_reseal, "BATCH", 2)
    keys = [store_user_key(owner), store_user_key(make_user("nina")), store_user_key(make_user("noah"))]
    group_key = store_group_key(owner, group)
    old = settings.BYOK_ENCRYPTION_KEY
    settings.BYOK_ENCRYPTION_KEY = KEY_B
    settings.BYOK_PREVIOUS_ENCRYPTION_KEYS = [old]
    code, out = run()
    assert code == 0 and out.startswith("Re-encrypted 4 key(s)")
    for key in [*keys, group_key]:
        stored = ProviderKey.objects.get(pk=key.pk)
        assert not vault.get_keyring().needs_reseal(stored.sealed_secret)
        assert vault.open_credential(stored) == OPENAI_KEY
        assert (stored.key_id, stored.status) == (key.key_id, key.status)
    events = AuditEvent.objects.filter(action="key.resealed")
    assert sorted(events.values_list("target_id", flat=True)) == sorted(k.key_id for k in [*keys, group_key])
    assert events.get(target_id=group_key.key_id).organization_id == group.pk
    assert audit_chain_verify().intact
