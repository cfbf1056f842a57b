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
