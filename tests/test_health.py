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


def test_metrics_count_calls_by_provider_and_status_and_carry_no_secret(
    db: Any, owner: Any, provider_mock: Any, settings: Any
) -> None:
    import responses

    from tests.factories import OPENAI_CHAT_URL, OPENAI_KEY, make_client, store_user_key

    store_user_key(owner)
    provider_mock.add(
        responses.POST,
        OPENAI_CHAT_URL,
        json={
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
        },
    )
    before = Client().get("/metrics").content.decode()
    api = make_client(owner)
    body = {"provider": "openai", "model": "gpt-4o-mini", "prompt": "hi"}
    assert api.post("/api/inference", body, format="json").status_code == 200
    text = Client().get("/metrics").content.decode()
    line = 'byok_requests_total{endpoint="inference",model="gpt-4o-mini",provider="openai",source="user",status="ok"}'
    assert line in text, [row for row in text.splitlines() if "byok_requests_total{" in row]
    count = float(text.split(line)[1].split()[0])
    previous = float(before.split(line)[1].split()[0]) if line in before else 0.0
    assert count == previous + 1
    assert 'byok_tokens_total{provider="openai",type="prompt"}' in text
    assert OPENAI_KEY not in text and "sk-proj" not in text


def test_metrics_are_refused_to_other_addresses_without_the_token(db: Any, settings: Any) -> None:
    assert Client(REMOTE_ADDR="10.9.8.7").get("/metrics").status_code == 403
    settings.BYOK_METRICS_TOKEN = "scrape-secret-123"
    client = Client(REMOTE_ADDR="10.9.8.7")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-123").status_code == 200
