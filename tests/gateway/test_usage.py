"""Usage accounting (``gateway.usage``): a record per attempt, even when the key or the group it was
made with disappears while the call is running."""

from __future__ import annotations

from byok_keys.models import ProviderKey
from gateway.usage import usage_record_call
from groups.models import Organization, User
from providers.chat import Usage
from tests.factories import store_group_key, store_user_key


def test_usage_is_recorded_even_if_the_key_was_deleted_during_the_call(owner: User) -> None:
    key = store_user_key(owner)
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


def test_usage_is_recorded_even_if_the_group_was_deleted_during_the_call(owner: User, group: Organization) -> None:
    key = store_group_key(owner, group)
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
