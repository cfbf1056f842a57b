from __future__ import annotations

import logging

import pytest
import requests
import responses
from django.test import override_settings

from common.masking import SecretMaskingFilter, mask_secrets
from providers import http
from providers.http import OutboundRequest

URL = "https://api.example.com/v1/models"
KEY = "sk-proj-" + "S3cretValue" * 5


def request() -> OutboundRequest:
    return OutboundRequest("GET", URL, headers={"Authorization": f"Bearer {KEY}"})


@override_settings(BYOK_HTTP_RETRIES=2)
def test_temporary_errors_are_retried(provider_mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http.time, "sleep", lambda s: None)
    provider_mock.add(responses.GET, URL, status=503)
    provider_mock.add(responses.GET, URL, body=requests.exceptions.ConnectionError("reset"))
    provider_mock.add(responses.GET, URL, json={"ok": True})
    assert http.send(request()).status_code == 200
    assert len(provider_mock.calls) == 3


@override_settings(BYOK_HTTP_RETRIES=2)
def test_permanent_errors_are_not_retried(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(responses.GET, URL, status=401)
    assert http.send(request()).status_code == 401
    assert len(provider_mock.calls) == 1


def test_timeouts_become_provider_timeout(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(responses.GET, URL, body=requests.exceptions.ReadTimeout("slow"))
    with pytest.raises(http.ProviderTimeout, match="did not answer"):
        http.send(request())


def test_redirects_are_never_followed(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(responses.GET, URL, status=301, headers={"Location": "https://evil.example.com/steal"})
    with pytest.raises(http.ProviderHTTPError, match="redirect"):
        http.send(request())
    assert len(provider_mock.calls) == 1


def test_request_repr_never_shows_headers() -> None:
    assert KEY not in repr(request())


def test_logs_of_a_request_do_not_contain_the_key(
    provider_mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    provider_mock.add(responses.GET, URL, json={})
    caplog.set_level(logging.DEBUG)
    http.send(request())
    assert "api.example.com" in caplog.text
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    "line",
    [
        f"Authorization: Bearer {KEY}",
        f"headers={{'x-api-key': '{KEY}'}}",
        f"api-key: {KEY}",
        "x-goog-api-key: AIzaSyA1234567890abcdefghijklmnopqrstu",
        "GET /v1beta/models?key=AIzaSyA1234567890abcdefghijklmnopqrstu HTTP/1.1",
        f"failed with {KEY} in the message",
        "token byokt_abcdefghijkl.QWERTYUIOPASDFGHJKLZXCVBNMqwertyuiopasdfg1",
    ],
)
def test_masking_removes_credentials(line: str) -> None:
    masked = mask_secrets(line)
    assert KEY not in masked
    assert "AIzaSyA1234567890abcdefghijklmnopqrstu" not in masked
    assert "QWERTYUIOPASDFGHJKL" not in masked


def test_the_filter_masks_messages_arguments_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "calling with %s", (f"Bearer {KEY}",), None)
    try:
        raise ValueError(f"bad key {KEY}")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    SecretMaskingFilter().filter(record)
    assert KEY not in record.getMessage()
    assert KEY not in (record.exc_text or "")
