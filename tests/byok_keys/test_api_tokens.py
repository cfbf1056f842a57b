"""``GET/POST /api/byok/tokens`` and ``DELETE /api/byok/tokens/:tokenId``: a caller's own API tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from byok_keys.models import ApiToken
from groups.models import AuditEvent, User


def test_a_created_token_is_shown_once_and_works(api: APIClient, owner: User) -> None:
    response = api.post("/api/byok/tokens", {"name": "laptop"}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["success"] is True and body["name"] == "laptop" and body["expiresAt"] is None
    assert body["token"].startswith(body["tokenId"] + ".")
    assert response["Cache-Control"] == "no-store"
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    assert fresh.get("/api/byok/keys").status_code == 200
    listed = api.get("/api/byok/tokens").json()["tokens"]
    assert body["tokenId"] in [t["tokenId"] for t in listed]
    assert body["token"] not in api.get("/api/byok/tokens").content.decode()
    assert AuditEvent.objects.filter(action="token.created", target_id=body["tokenId"]).exists()


def test_a_token_with_an_expiry_in_the_past_is_refused(api: APIClient) -> None:
    past = (timezone.now() - timedelta(days=1)).isoformat()
    response = api.post("/api/byok/tokens", {"name": "old", "expiresAt": past}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_expiry")


def test_an_unknown_field_is_refused_naming_it(api: APIClient) -> None:
    response = api.post("/api/byok/tokens", {"name": "x", "scopes": ["all"]}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_field"
    assert "scopes" in response.json()["error"]
    assert not ApiToken.objects.filter(name="x").exists()


def test_revoking_a_token_stops_it_at_once(api: APIClient) -> None:
    created = api.post("/api/byok/tokens", {"name": "ci"}, format="json").json()
    response = api.delete(f"/api/byok/tokens/{created['tokenId']}")
    assert response.status_code == 200
    fresh = APIClient()
    fresh.credentials(HTTP_AUTHORIZATION=f"Bearer {created['token']}")
    assert fresh.get("/api/byok/keys").status_code == 401
    listed = {t["tokenId"]: t for t in api.get("/api/byok/tokens").json()["tokens"]}
    assert listed[created["tokenId"]]["status"] == "revoked"


def test_a_caller_sees_and_revokes_only_their_own_tokens(
    api: APIClient, outsider: User, client_for: Callable[[User], APIClient]
) -> None:
    theirs = client_for(outsider).post("/api/byok/tokens", {"name": "theirs"}, format="json").json()
    assert theirs["tokenId"] not in [t["tokenId"] for t in api.get("/api/byok/tokens").json()["tokens"]]
    response = api.delete(f"/api/byok/tokens/{theirs['tokenId']}")
    assert (response.status_code, response.json()["code"]) == (404, "token_not_found")
    assert ApiToken.objects.get(lookup_id=theirs["tokenId"].removeprefix("byokt_")).revoked_at is None


def test_tokens_need_authentication() -> None:
    assert APIClient().get("/api/byok/tokens").status_code == 401
