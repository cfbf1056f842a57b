"""Log masking beyond provider key shapes: query strings never reach a log with their values."""

from __future__ import annotations

import logging

import pytest

from common.masking import SecretMaskingFilter, mask_secrets
from tests.factories import MISTRAL_KEY


@pytest.mark.parametrize(
    "line",
    [
        f'"GET /api/byok/keys?apiKey={MISTRAL_KEY} HTTP/1.1" 401 92',
        f"GET /v1/models?x=1&key={MISTRAL_KEY}",
        f"provider GET https://example.com/path?token={MISTRAL_KEY}&a=b -> 200",
    ],
)
def test_query_string_values_are_masked_in_log_lines(line: str) -> None:
    masked = mask_secrets(line)
    assert MISTRAL_KEY not in masked
    assert "=***" in masked


def test_the_dev_servers_access_log_record_is_masked() -> None:
    record = logging.LogRecord(
        "django.server",
        logging.INFO,
        __file__,
        1,
        '"%s" %s %s',
        (f"GET /?apiKey={MISTRAL_KEY} HTTP/1.1", "200", "5"),
        None,
    )
    SecretMaskingFilter().filter(record)
    assert MISTRAL_KEY not in record.getMessage()
    assert "apiKey=***" in record.getMessage()
