from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from byok_keys.services import api_token_create
from groups.models import Membership, Organization, User
from groups.services import group_create, membership_set

# Real-shaped, distinctive fake keys (never valid anywhere).
OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2 + "T3BlbkFJ" + "k1L2m3N4o5P6q7R8s9T0" * 2
ANTHROPIC_KEY = "sk-ant-api03-" + ("Zq9" * 31) + "AA"
GROQ_KEY = "gsk_" + "Q" * 20 + "w" * 20 + "1" * 12


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
    return user


@pytest.fixture
def member(make_user: Callable[..., User], group: Organization, owner: User) -> User:
    user = make_user("mia")
    membership_set(actor=owner, org=group, username=user.username, role=Membership.Role.MEMBER)
    return user


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
