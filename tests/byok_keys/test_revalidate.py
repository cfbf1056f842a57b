from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from byok_keys.models import ProviderKey
from byok_keys.services import KeyOwner, provider_key_set
from groups.models import AuditEvent, User
from tests.factories import GROQ_KEY, GROQ_MODELS_URL, OPENAI_KEY, OPENAI_MODELS_URL

BAD = {"status": 401, "json": {"error": {"message": "Incorrect API key provided"}}}


@pytest.fixture
def stored(owner: User, provider_mock: responses.RequestsMock) -> ProviderKey:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})
    key = provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY).key
    assert key.status == "valid"
    return key


def run(*args: str) -> str:
    out = StringIO()
    call_command("byok_revalidate", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_key_becomes_invalid_only_after_two_invalid_checks_in_a_row(
    stored: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, **BAD)
    first = run()
    stored.refresh_from_db()
    assert stored.status == "valid"
    assert stored.invalid_checks == 1
    assert "found invalid once" in first
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, **BAD)
    second = run()
    stored.refresh_from_db()
    assert stored.status == "invalid"
    assert "valid -> invalid" in second
    event = AuditEvent.objects.get(action="key.status_changed", target_id=stored.key_id)
    assert event.details["to"] == "invalid"
    assert event.actor is None


def test_a_good_check_between_two_bad_ones_resets_the_count(
    stored: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, **BAD)
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, **BAD)
    run(), run(), run()
    stored.refresh_from_db()
    assert stored.status == "valid"
    assert stored.invalid_checks == 1


def test_temporary_failures_change_nothing(stored: ProviderKey, provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=503)
    before = stored.last_validated_at
    output = run()
    stored.refresh_from_db()
    assert (stored.status, stored.last_validated_at) == ("valid", before)
    assert "1 unverified" in output


def test_dry_run_writes_nothing(stored: ProviderKey, provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, **BAD)
    output = run("--dry-run")
    stored.refresh_from_db()
    assert stored.invalid_checks == 0
    assert output.startswith("Dry run: checked 1 key(s): 1 invalid.")


def test_revalidation_can_be_limited_to_one_provider_or_to_keys_checked_long_ago(
    owner: User, stored: ProviderKey, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, GROQ_MODELS_URL, json={"data": []})
    groq = provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="groq", raw=GROQ_KEY).key
    ProviderKey.objects.filter(pk=groq.pk).update(last_validated_at=timezone.now() - timedelta(days=10))
    provider_mock.add(responses.GET, GROQ_MODELS_URL, json={"data": []})
    assert "checked 1 key(s): 1 valid" in run("--provider", "groq")
    provider_mock.add(responses.GET, GROQ_MODELS_URL, json={"data": []})
    ProviderKey.objects.filter(pk=groq.pk).update(last_validated_at=timezone.now() - timedelta(days=10))
    # The OpenAI key was checked just now, so only the groq key is older than 7 days.
    assert "checked 1 key(s)" in run("--older-than", "7")


def test_unknown_provider_is_an_error(db: Any) -> None:
    with pytest.raises(CommandError, match="Unknown provider"):
        run("--provider", "nope")
