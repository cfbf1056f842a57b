"""A stored secret that was tampered with fails closed: a modified ciphertext, one moved onto another
record, and one sealed by a master key this server does not hold each raise ``DecryptionError`` with a
clear message, the key is never sent anywhere, and a call moves on to the caller's next key (a group
key) without using it. No answer ever carries secret or sealed material."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
import responses

from byok_keys import vault
from byok_keys.crypto import PREFIX, DecryptionError, Keyring
from byok_keys.models import ProviderKey
from groups.models import Organization, User
from tests.factories import (
    OPENAI_CHAT_URL,
    OPENAI_KEY,
    make_client,
    shown_key,
    store_group_key,
    store_user_key,
)

OWN_SECRET = "sk-proj-" + "TamperOwn0000" * 3 + "T3BlbkFJ" + "OwnKeyOwnKey" * 2
GROUP_SECRET = "sk-proj-" + "TamperGroup00" * 3 + "T3BlbkFJ" + "GroupKeyGrp1" * 2
OTHER_SECRET = "sk-proj-" + "TamperOther00" * 3 + "T3BlbkFJ" + "OtherKeyOth1" * 2


def flip_a_byte(key: ProviderKey, other: ProviderKey) -> None:
    """One bit of the ciphertext changed in place."""
    head, body = key.sealed_secret.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(body))
    raw[len(raw) // 2] ^= 0x01
    key.sealed_secret = f"{head}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"


def move_from_another_record(key: ProviderKey, other: ProviderKey) -> None:
    """Another user's sealed secret copied onto this key (same provider, same master key)."""
    key.sealed_secret = other.sealed_secret
    key.secret_fingerprint = other.secret_fingerprint


def seal_with_an_unknown_master_key(key: ProviderKey, other: ProviderKey) -> None:
    """A well-formed value for this very record, sealed by a master key the server does not have."""
    plaintext = json.dumps(OWN_SECRET).encode()
    key.sealed_secret = Keyring(primary=os.urandom(32)).seal(plaintext, aad=key.aad())


TAMPERINGS: dict[str, tuple[Callable[[ProviderKey, ProviderKey], None], str]] = {
    "modified": (flip_a_byte, "failed authentication"),
    "moved": (move_from_another_record, "belongs to another record"),
    "unknown_master_key": (seal_with_an_unknown_master_key, "not configured"),
}


def completion(text: str = "served") -> dict[str, Any]:
    return {
        "id": "chatcmpl-t",
        "object": "chat.completion",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def sse(text: str = "served") -> str:
    chunk = {
        "id": "chatcmpl-t",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}],
    }
    return f"data: {json.dumps(chunk)}\n\ndata: [DONE]\n\n"


@pytest.fixture(params=sorted(TAMPERINGS))
def tampered(request: pytest.FixtureRequest, owner: User, outsider: User, group: Organization) -> dict[str, Any]:
    """The owner's own key tampered with; the owner's group has a sound key for the same provider."""
    own = store_user_key(owner, raw=OWN_SECRET)
    other = store_user_key(outsider, raw=OTHER_SECRET)
    group_key = store_group_key(owner, group, raw=GROUP_SECRET)
    tamper, message = TAMPERINGS[request.param]
    before = own.sealed_secret
    tamper(own, other)
    assert own.sealed_secret != before
    ProviderKey.objects.filter(pk=own.pk).update(
        sealed_secret=own.sealed_secret, secret_fingerprint=own.secret_fingerprint
    )
    return {"own": own, "group_key": group_key, "message": message, "kind": request.param}


def sealed_bodies() -> list[str]:
    """Every stored ciphertext (the part after the master key id)."""
    return [sealed.rsplit(":", 1)[1] for sealed in ProviderKey.objects.values_list("sealed_secret", flat=True)]


def assert_no_secret_material(text: str) -> None:
    for secret in (OWN_SECRET, GROUP_SECRET, OTHER_SECRET, OPENAI_KEY):
        assert secret not in text
        assert secret[8:30] not in text and secret[-20:] not in text
    for body in sealed_bodies():
        assert body[:24] not in text
    assert PREFIX not in text


def chat_requests(mock: responses.RequestsMock) -> list[Any]:
    return [call.request for call in mock.calls if call.request.method == "POST"]


def test_a_tampered_secret_fails_closed_with_a_clear_error(tampered: dict[str, Any]) -> None:
    key = ProviderKey.objects.get(pk=tampered["own"].pk)
    with pytest.raises(DecryptionError, match=tampered["message"]) as info:
        vault.open_credential(key)
    assert_no_secret_material(str(info.value))


@pytest.mark.parametrize("endpoint", ["inference", "chat_completions", "chat_completions_stream"])
def test_a_call_moves_on_to_the_next_key_without_using_the_tampered_one(
    tampered: dict[str, Any], owner: User, provider_mock: responses.RequestsMock, endpoint: str
) -> None:
    api = make_client(owner)
    if endpoint == "chat_completions_stream":
        provider_mock.add(responses.POST, OPENAI_CHAT_URL, body=sse(), content_type="text/event-stream")
        response = api.post(
            "/v1/chat/completions",
            {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True},
            format="json",
        )
        text = b"".join(response.streaming_content).decode()
        assert '"content":"served"' in text
    else:
        provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion())
        if endpoint == "inference":
            response = api.post("/api/inference", {"provider": "openai", "model": "m", "prompt": "hi"}, format="json")
        else:
            response = api.post(
                "/v1/chat/completions",
                {"model": "openai/m", "messages": [{"role": "user", "content": "hi"}]},
                format="json",
            )
        text = response.content.decode()
    assert response.status_code == 200, text
    assert response["X-BYOK-Key-Source"] == "group"
    assert response["X-BYOK-Key-Id"] == tampered["group_key"].key_id
    # The provider saw exactly one call, with the group's key: nothing of the tampered one went out.
    sent = chat_requests(provider_mock)
    assert [request.headers["Authorization"] for request in sent] == [f"Bearer {GROUP_SECRET}"]
    assert shown_key(pk=tampered["own"].pk).current_usage_count == 0
    assert shown_key(pk=tampered["group_key"].pk).current_usage_count == 1
    assert_no_secret_material(text + "".join(f"{k}: {v}" for k, v in response.items()))


def test_a_tampered_key_alone_fails_the_call_and_nothing_is_sent(
    tampered: dict[str, Any], owner: User, provider_mock: responses.RequestsMock
) -> None:
    ProviderKey.objects.filter(pk=tampered["group_key"].pk).delete()
    response = make_client(owner).post(
        "/api/inference", {"provider": "openai", "model": "m", "prompt": "hi"}, format="json"
    )
    assert response.status_code != 200
    assert response.json()["success"] is False
    assert chat_requests(provider_mock) == []
    assert shown_key(pk=tampered["own"].pk).current_usage_count == 0
    assert_no_secret_material(response.content.decode())


def test_testing_a_tampered_key_calls_no_provider_and_leaks_nothing(
    tampered: dict[str, Any], owner: User, provider_mock: responses.RequestsMock
) -> None:
    calls_before = len(provider_mock.calls)  # the validation requests made while storing the keys
    response = make_client(owner).post("/api/byok/keys/openai/test", {}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["status"] != "valid"
    assert len(provider_mock.calls) == calls_before  # not even a validation request: nothing could be sent
    assert ProviderKey.objects.get(pk=tampered["own"].pk).status != ProviderKey.Status.VALID
    assert_no_secret_material(response.content.decode())


def test_reading_a_tampered_key_still_works_and_shows_no_secret(tampered: dict[str, Any], owner: User) -> None:
    """Listings never decrypt, so a tampered key is still listed (by last4) and can be removed."""
    api = make_client(owner)
    listing = api.get("/api/byok/keys")
    assert listing.status_code == 200
    assert tampered["own"].key_id in listing.content.decode()
    assert_no_secret_material(listing.content.decode())
    assert api.delete("/api/byok/keys/openai").status_code == 200
    assert not ProviderKey.objects.filter(pk=tampered["own"].pk).exists()
