"""``/healthz``, ``/readyz``, request ids and JSON logs."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client


def test_healthz_answers_without_authentication(client: Client, db: Any) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_ready_with_the_database_and_master_key(client: Client, db: Any) -> None:
    response = client.get("/readyz")
    assert (response.status_code, response.json()["status"]) == (200, "ready")


def test_readyz_fails_when_the_database_is_down(client: Client, db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from config import health

    def down() -> None:
        raise ConnectionError("database is down")

    monkeypatch.setattr(health, "_database", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "failed": ["database"]}


def test_readyz_fails_without_a_usable_master_key(client: Client, db: Any, settings: Any) -> None:
    settings.BYOK_ENCRYPTION_KEY = "not-hex"
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json()["failed"] == ["master_key"]


def test_every_answer_has_a_request_id_and_a_good_one_sent_is_kept(client: Client, db: Any) -> None:
    assert len(client.get("/healthz")["X-Request-Id"]) == 32
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123-def")["X-Request-Id"] == "abc-123-def"
    assert client.get("/healthz", HTTP_X_REQUEST_ID="<script>")["X-Request-Id"] != "<script>"


def test_json_log_lines_carry_the_request_id_and_are_masked() -> None:
    from common.context import current_request_id
    from common.logs import JsonFormatter, RequestIdFilter
    from common.masking import SecretMaskingFilter

    token = current_request_id.set("req-0001-abcd")
    try:
        record = logging.LogRecord(
            "byok", logging.INFO, __file__, 1, "called with %s", ("Bearer sk-proj-abcdefghijklmnop1234",), None
        )
        SecretMaskingFilter().filter(record)
        RequestIdFilter().filter(record)
        line = json.loads(JsonFormatter().format(record))
    finally:
        current_request_id.reset(token)
    assert line["request_id"] == "req-0001-abcd" and line["level"] == "INFO"
    assert "abcdefghijklmnop" not in line["message"]
