"""API tokens as credentials (``byok_keys.authentication``): no token, a bad, revoked or expired token
is a 401 in the documented error shape."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from byok_keys.models import ApiToken
from byok_keys.services import api_token_create, api_token_revoke
from groups.models import User


def test_no_token_is_401(db: Any) -> None:
    response = APIClient().get("/api/byok/keys")
    assert response.status_code == 401
    assert response.json() == {
        "success": False,
        "error": response.json()["error"],
        "code": "not_authenticated",
    }


@pytest.mark.parametrize(
    "header",
    ["Bearer byokt_aaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "Bearer nonsense", "Bearer "],
)
def test_bad_token_is_401(db: Any, header: str) -> None:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/byok/keys")
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_revoked_and_expired_tokens_are_refused(owner: User) -> None:
    token, plaintext = api_token_create(user=owner, name="a")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert client.get("/api/byok/keys").status_code == 200
    api_token_revoke(token=token, actor=owner)
    assert client.get("/api/byok/keys").status_code == 401
    token2, plaintext2 = api_token_create(user=owner, name="b", expires_at=timezone.now() + timedelta(seconds=60))
    ApiToken.objects.filter(pk=token2.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext2}")
    assert client.get("/api/byok/keys").status_code == 401
