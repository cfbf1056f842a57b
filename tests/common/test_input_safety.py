"""Bad input never turns into a 500 or into an error page that shows the request."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from groups.models import Organization
from tests.factories import OPENAI_KEY


@pytest.mark.parametrize("debug", [False, True])
def test_json_nested_100000_deep_is_a_400(api: APIClient, settings: Any, debug: bool) -> None:
    settings.DEBUG = debug
    body = "[" * 100_000 + "]" * 100_000
    response = api.post("/api/byok/groups", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert "nested" in response.json()["error"]


def test_a_nul_character_in_a_body_or_an_address_is_a_400(api: APIClient, group: Organization) -> None:
    response = api.post("/api/byok/groups", {"id": "ab\u0000c", "name": "x"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "malformed_json")
    for path in ("/api/byok/groups/ac%00me", "/api/byok/groups/acme/users/x%00y", "/api/byok/resolve?provider=a%00"):
        response = api.get(path)
        assert response.status_code == 400, path
        assert response.json()["code"] == "invalid_characters"
    assert api.delete("/api/byok/groups/acme/users/x%00y").status_code == 400


@pytest.mark.parametrize("name", ["evil\u202egpj.exe", "bell\u0007", "tab\there", "zw\u2066x"])
def test_names_with_control_or_direction_override_characters_are_refused(
    api: APIClient, group: Organization, name: str
) -> None:
    response = api.post("/api/byok/groups", {"id": "newgroup", "name": name}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_characters")
    assert not Organization.objects.filter(slug="newgroup").exists()
    response = api.post("/api/byok/tokens", {"name": name}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_characters")
    response = api.post("/api/byok/keys/openai", {"apiKey": OPENAI_KEY, "name": name}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid_characters")
    assert not ProviderKey.objects.exists()


def test_an_unexpected_error_on_an_api_path_is_json_without_the_body_even_with_debug(
    api: APIClient, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from byok_keys import services

    def explode(**kwargs: Any) -> Any:
        raise RuntimeError("boom")

    settings.DEBUG = True
    monkeypatch.setattr(services, "provider_key_set", explode)
    response = api.post("/api/byok/keys/openai", {"apiKey": OPENAI_KEY}, format="json")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "server_error"
    assert OPENAI_KEY not in response.content.decode()


def test_the_debug_page_of_a_non_api_path_shows_no_post_values(client: Any, settings: Any, superuser: Any) -> None:
    from django.test import RequestFactory
    from django.views.debug import technical_500_response

    settings.DEBUG = True
    request = RequestFactory().post("/admin/x/", {"secret": OPENAI_KEY, "name": "n"})
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        import sys

        page = technical_500_response(request, *sys.exc_info()).content.decode()
        assert exc.args == ("boom",)
    assert OPENAI_KEY not in page


def test_api_responses_are_never_cached(api: APIClient) -> None:
    for path in ("/api/byok/keys", "/api/byok/tokens", "/api/byok/nothing"):
        assert "no-store" in api.get(path)["Cache-Control"], path


def test_a_body_without_content_length_past_the_limit_is_a_json_413(db: Any) -> None:
    """Django raises RequestDataTooBig while reading such a body; API paths answer it as a JSON 413."""
    from django.core.exceptions import RequestDataTooBig
    from django.http import HttpResponse
    from django.test import RequestFactory

    from common.middleware import ApiSafetyMiddleware

    middleware = ApiSafetyMiddleware(lambda request: HttpResponse())
    response = middleware.process_exception(RequestFactory().post("/api/byok/groups"), RequestDataTooBig("big"))
    assert response is not None and response.status_code == 413
    assert b'"code": "request_too_large"' in response.content
    assert middleware.process_exception(RequestFactory().post("/admin/"), RequestDataTooBig("big")) is None
