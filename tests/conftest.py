"""Fixtures only: personas (owner, member, group_admin, outsider, staff, superuser), API clients, and
the autouse fakes for DNS and outbound provider calls. Shared data and helpers live in tests/factories.py."""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from django.contrib.auth.models import Permission
from django.test.utils import modify_settings
from rest_framework.test import APIClient

from groups.models import Membership, Organization, User
from groups.services import group_create
from providers import http
from tests.factories import FAKE_DNS, PUBLIC_TEST_ADDRESS, create_user, join_group, make_client
from tests.http_bridge import bridge_factory


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit and failed-sign-in counters never carry over from one test to the next."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """No test depends on real DNS: the SSRF guard resolves through this table."""
    real = socket.getaddrinfo
    table = dict(FAKE_DNS)

    def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name.strip("[]"))
            return real(host, port, *args, **kwargs)
        except ValueError:
            pass
        if name == "localhost":
            return real(host, port, *args, **kwargs)
        address = table.get(name, PUBLIC_TEST_ADDRESS)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port or 443))]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return table


@pytest.fixture(autouse=True)
def provider_mock(request: pytest.FixtureRequest) -> Iterator[responses.RequestsMock | None]:
    """Every outbound provider call is mocked: an unregistered call fails like a network error (the key
    is then stored 'unverified'), and every registered response must be used. Tests marked
    ``real_http`` (live fake-provider servers) opt out."""
    if request.node.get_closest_marker("real_http"):
        yield None
        return
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(http, "async_transport_factory", bridge_factory)
    http.reset_async_clients()
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
            yield mock
    finally:
        monkeypatch.undo()
        http.reset_async_clients()


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    return create_user


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("olivia")


@pytest.fixture
def group(owner: User) -> Organization:
    return group_create(actor=owner, slug="acme", name="Acme")


@pytest.fixture
def group_admin(make_user: Callable[..., User], group: Organization, owner: User) -> User:
    return join_group(owner=owner, group=group, user=make_user("adam"), role=Membership.Role.ADMIN)


@pytest.fixture
def member(make_user: Callable[..., User], group: Organization, owner: User) -> User:
    return join_group(owner=owner, group=group, user=make_user("mia"))


@pytest.fixture
def outsider(make_user: Callable[..., User]) -> User:
    return make_user("oscar")


@pytest.fixture
def staff(make_user: Callable[..., User]) -> User:
    """Platform staff: staff with the permission to manage every group."""
    user = make_user("stella", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="manage_all_groups"))
    return User.objects.get(pk=user.pk)  # drop the permission cache


@pytest.fixture
def superuser(db: Any) -> User:
    return User.objects.create_superuser(username="root", password="pw-root", email="root@example.com")


@pytest.fixture
def api(owner: User) -> APIClient:
    return make_client(owner)


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    return make_client


class AsgiLiveServer:
    """The service under uvicorn (ASGI, as in production) in a thread of the test process, on the test
    database: async inference streams and cancels here as it does behind ``make serve-prod``."""

    def __init__(self) -> None:
        import uvicorn
        from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
        from django.core.asgi import get_asgi_application

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        app = ASGIStaticFilesHandler(get_asgi_application())
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        # pytest-django's live-server helper (autouse) enables this around each test.
        self._live_server_modified_settings = modify_settings(ALLOWED_HOSTS={"append": ["127.0.0.1", "localhost"]})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AsgiLiveServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the ASGI test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(transactional_db: Any) -> Iterator[AsgiLiveServer]:
    """Replaces pytest-django's WSGI live server with the ASGI one (same ``.url``)."""
    with AsgiLiveServer() as server:
        yield server
