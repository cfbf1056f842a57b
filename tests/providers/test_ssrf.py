"""SSRF: user-supplied URLs may not reach loopback, private, link-local or metadata addresses outside
local settings, nor be redirected."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import responses
from django.test import override_settings

from providers import http, ssrf
from providers.http import OutboundRequest
from providers.registry import get_adapter_class
from providers.validation import validate


def azure(endpoint: str) -> Any:
    return get_adapter_class("azure")({"endpoint_url": endpoint, "api_key": "a" * 32, "deployment_id": "d"})


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://127.0.0.1", "loopback"),
        ("https://[::1]:8443", "loopback"),
        ("https://10.0.0.8", "private"),
        ("https://10.255.1.1/openai", "private"),
        ("https://192.168.1.10", "private"),
        ("https://169.254.169.254/latest/meta-data", "cloud metadata"),
        ("https://internal.example.com", "private"),  # a host name resolving to 10.1.2.3
        ("https://metadata.example.com", "cloud metadata"),  # resolving to 169.254.169.254
    ],
)
def test_private_loopback_and_metadata_destinations_are_refused(url: str, why: str) -> None:
    with pytest.raises(ssrf.UnsafeURLError, match=why):
        ssrf.check_url(url)


def test_http_is_refused_outside_local_settings_but_ollama_may_use_it() -> None:
    with pytest.raises(ssrf.UnsafeURLError, match="https"):
        ssrf.check_url("http://api.example.com")
    ssrf.check_url("http://api.example.com", allow_http=True)


def test_public_https_destination_is_allowed() -> None:
    ssrf.check_url("https://my-resource.openai.azure.com")


@override_settings(BYOK_ALLOWED_PRIVATE_HOSTS=["localhost", "127.0.0.1"], BYOK_ALLOW_INSECURE_URLS=True)
def test_local_settings_allow_a_local_ollama() -> None:
    ssrf.check_url("http://localhost:11434", allow_http=True)
    ssrf.check_url("http://127.0.0.1:11434", allow_http=True)
    with pytest.raises(ssrf.UnsafeURLError):
        ssrf.check_url("http://10.0.0.8:11434", allow_http=True)


def test_local_settings_file_allows_localhost_for_ollama() -> None:
    from config.settings import local

    assert {"localhost", "127.0.0.1"} <= set(local.BYOK_ALLOWED_PRIVATE_HOSTS)


def test_validation_of_a_private_endpoint_never_sends_a_request() -> None:
    # The autouse provider mock would fail the test on any request.
    with pytest.raises(http.UnsafeDestination, match="private"):
        validate(azure("https://internal.example.com"))


def test_a_redirect_from_a_user_supplied_url_is_refused(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(
        responses.GET,
        "https://my-resource.openai.azure.com/openai/models",
        status=302,
        headers={"Location": "http://169.254.169.254/latest/meta-data"},
    )
    with pytest.raises(http.UnsafeDestination, match="redirect"):
        validate(azure("https://my-resource.openai.azure.com"))
    assert len(provider_mock.calls) == 1  # the redirect was not followed


class FakeSocket:
    def __init__(self, peer: str) -> None:
        self.peer = peer

    def getpeername(self) -> tuple[str, int]:
        return (self.peer, 443)


def test_connection_time_check_catches_dns_rebinding() -> None:
    # The name passed the pre-check, but the connection landed on a private address.
    with pytest.raises(ssrf.UnsafeURLError, match="private"):
        ssrf.check_peer(FakeSocket("10.9.8.7"), "rebind.example.com")  # type: ignore[arg-type]
    ssrf.check_peer(FakeSocket("52.1.2.3"), "api.example.com")  # type: ignore[arg-type]


@pytest.mark.real_http
@override_settings(BYOK_ALLOW_INSECURE_URLS=True)
def test_guarded_connection_refuses_a_loopback_peer_even_after_the_name_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real socket: the name resolves publicly for the pre-check, then to 127.0.0.1 on connect."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    real = socket.getaddrinfo
    calls = {"n": 0}

    def rebinding(host: Any, p: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example.com":
            calls["n"] += 1
            address = "52.1.2.3" if calls["n"] == 1 else "127.0.0.1"
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real(host, p, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    try:
        request = OutboundRequest("GET", f"http://rebind.example.com:{port}/", user_supplied_url=True, allow_http=True)
        with pytest.raises(http.UnsafeDestination, match="loopback"):
            http.send(request, retries=0)
    finally:
        server.close()
