"""Parallel replaces of one key through a live server: never a 500, exactly one key, and it holds one
of the secrets that were sent (SQLite and PostgreSQL; CI runs both)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from byok_keys import vault
from byok_keys.models import ProviderKey
from groups.models import User
from tests.factories import OPENAI_KEY, make_client

pytestmark = [pytest.mark.real_http, pytest.mark.django_db(transaction=True)]


def test_parallel_replaces_of_one_key_leave_exactly_one_of_the_secrets_sent(
    live_server: Any, owner: User, settings: Any
) -> None:
    # Nothing answers the live check here: keys are stored unverified (no provider is reached).
    settings.BYOK_BASE_URL_OVERRIDES = {"openai": "http://127.0.0.1:9/v1"}
    settings.BYOK_HTTP_RETRIES = 0
    token = make_client(owner).token  # type: ignore[attr-defined]
    secrets = [OPENAI_KEY[:-6] + f"Par{i:03d}" for i in range(12)]

    def put(secret: str) -> int:
        return requests.post(
            f"{live_server.url}/api/byok/keys/openai",
            json={"apiKey": secret, "name": "race"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(put, secrets))
    assert set(statuses) <= {200, 201, 409}, statuses
    assert 201 in statuses
    keys = list(ProviderKey.objects.filter(user=owner, provider="openai"))
    assert len(keys) == 1
    assert vault.open_credential(keys[0]) in secrets
