from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from byok_keys.services import api_token_create
from groups.models import Membership, Organization, User
from groups.services import group_create, membership_accept, membership_set

# Real-shaped, distinctive fake keys (never valid anywhere).
OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2 + "T3BlbkFJ" + "k1L2m3N4o5P6q7R8s9T0" * 2
ANTHROPIC_KEY = "sk-ant-api03-" + ("Zq9" * 31) + "AA"
GROQ_KEY = "gsk_" + "Q" * 20 + "w" * 20 + "1" * 12


# Host names the tests resolve without a network; anything else resolves to a public address.
FAKE_DNS: dict[str, str] = {"internal.example.com": "10.1.2.3", "metadata.example.com": "169.254.169.254"}
PUBLIC_TEST_ADDRESS = "52.1.2.3"


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
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


def make_client(user: User) -> APIClient:
    _, token = api_token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.token = token  # type: ignore[attr-defined]
    return client


@pytest.fixture
def make_user(db: Any) -> Callable[..., User]:
    def _make(username: str, **extra: Any) -> User:
        return User.objects.create_user(username=username, password="pw-" + username, **extra)

    return _make


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user("olivia")


@pytest.fixture
def group(owner: User) -> Organization:
    return group_create(actor=owner, slug="acme", name="Acme")


@pytest.fixture
def group_admin(make_user: Callable[..., User], group: Organization, owner: User) -> User:
    user = make_user("adam")
    membership_set(actor=owner, org=group, username=user.username, role=Membership.Role.ADMIN)
    membership_accept(user=user, org=group)
    return user


@pytest.fixture
def member(make_user: Callable[..., User], group: Organization, owner: User) -> User:
    user = make_user("mia")
    membership_set(actor=owner, org=group, username=user.username, role=Membership.Role.MEMBER)
    membership_accept(user=user, org=group)
    return User.objects.get(pk=user.pk)


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
