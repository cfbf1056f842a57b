"""The API's error answers (``common.api``, ``common.middleware``, ``common.views``): always JSON in the
documented shape, whatever the endpoint; shown here through the key endpoint."""

from __future__ import annotations

import json
from typing import Any

from django.test import RequestFactory, override_settings
from rest_framework.test import APIClient

from common.views import server_error
from tests.factories import OPENAI_KEY


def test_malformed_json_is_a_400_with_its_own_code(api: APIClient) -> None:
    response = api.post("/api/byok/keys/openai", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


def test_body_that_is_not_an_object_is_refused(api: APIClient) -> None:
    response = api.post("/api/byok/keys/openai", data="[1,2]", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["success"] is False


@override_settings(BYOK_MAX_BODY_BYTES=1000)
def test_body_too_large_is_413(api: APIClient) -> None:
    response = api.post("/api/byok/keys/openai", {"apiKey": OPENAI_KEY, "description": "x" * 2000}, format="json")
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_unknown_api_path_is_a_json_404(api: APIClient) -> None:
    response = api.get("/api/byok/nothing/here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_server_errors_on_api_paths_are_json_without_details(db: Any) -> None:
    response = server_error(RequestFactory().get("/api/byok/keys"))
    assert response.status_code == 500
    assert json.loads(response.content)["code"] == "server_error"
