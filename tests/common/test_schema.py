"""The OpenAPI schema (``/api/schema/``, built from ``common.schema`` and the views) and its docs page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management import call_command
from rest_framework.test import APIClient


def test_openapi_schema_and_docs_are_served(db: Any) -> None:
    client = APIClient()
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/byok/keys/{provider}" in schema.content
    assert client.get("/api/docs/").status_code == 200


def test_openapi_schema_is_valid_and_complete(db: Any, tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    # --fail-on-warn: every view has request and response shapes and operation ids are unique.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ("/api/byok/providers", "/api/inference", "/v1/chat/completions", "/api/byok/resolve"):
        assert path in text


def test_every_documented_operation_has_its_own_summary_and_description(db: Any) -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operations = [
        (f"{method.upper()} {path}", op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(operations) >= 20
    missing = [name for name, op in operations if not op.get("summary") or not op.get("description")]
    assert missing == []
    descriptions = [op["description"] for _, op in operations]
    assert len(set(descriptions)) == len(descriptions), "two operations share one description"


def test_responses_are_rendered_by_the_serializers_the_schema_documents(api: APIClient) -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    documented = schema["components"]["schemas"]["KeysOverview"]["properties"]
    body = api.get("/api/byok/keys").json()
    assert set(body) == set(documented)
