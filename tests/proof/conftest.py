"""Fixtures for the proof suite: a small world with every persona the access matrix names.

Groups: ``acme`` (owner olivia, admin adam, members mia and nadia, ivan invited and not accepted) and
``globex`` (owner gina, admin tess: staff without the permission to manage every group, like a team
administrator). stella is platform staff (``groups.manage_all_groups``); oscar belongs to nothing.
Keys (OpenAI): olivia's own; acme's, usable by olivia, adam and mia only (not nadia); globex's, usable
by all its members.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.utils import timezone
from rest_framework.test import APIClient

from byok_keys.models import ApiToken, ProviderKey
from byok_keys.services import AllowedUsers, KeyOwner, api_token_create, provider_credential_parse, provider_key_store
from groups.models import Membership, Organization, User
from groups.services import group_create, membership_set
from tests.factories import create_user, join_group

# Real-shaped, distinct OpenAI keys: which one a provider receives says which key served.
OWN_KEY = "sk-proj-" + "MatrixOwnKey" * 4 + "T3BlbkFJ" + "OliviaOwn000" * 2
ACME_KEY = "sk-proj-" + "MatrixAcmeKy" * 4 + "T3BlbkFJ" + "AcmeGroup000" * 2
GLOBEX_KEY = "sk-proj-" + "MatrixGlobex" * 4 + "T3BlbkFJ" + "GlobexGroup0" * 2

# persona -> the user whose token it uses (None: no credentials at all)
PERSONA_USERS: dict[str, str | None] = {
    "owner": "olivia",
    "admin": "adam",
    "member": "mia",
    "member_not_allowed": "nadia",
    "invitee": "ivan",
    "outsider": "oscar",
    "staff": "stella",
    "staff_without_permission": "tess",
    "anonymous": None,
    "revoked_token": "olivia",
    "expired_token": "olivia",
}


def _store_key(actor: User, owner: KeyOwner, secret: str, allowed: AllowedUsers | None = None) -> ProviderKey:
    """Stored through the vault's service, without a live check (no provider is called)."""
    credential = provider_credential_parse(provider="openai", raw=secret)
    key, _ = provider_key_store(actor=actor, owner=owner, provider="openai", credential=credential, allowed=allowed)
    return key


@dataclass
class World:
    users: dict[str, User]
    groups: dict[str, Organization]
    keys: dict[str, ProviderKey]
    tokens: dict[str, str] = field(default_factory=dict)  # username -> plaintext of their token
    token_ids: dict[str, str] = field(default_factory=dict)  # username -> tokenId (byokt_<lookup>)

    def client(self, persona: str) -> APIClient:
        client = APIClient()
        if persona == "revoked_token":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens['olivia:revoked']}")
        elif persona == "expired_token":
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens['olivia:expired']}")
        elif PERSONA_USERS[persona] is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.tokens[PERSONA_USERS[persona] or '']}")
        return client


@pytest.fixture(scope="module")
def world_once(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    """The world, built once per test module inside a transaction rolled back at its end; each test
    runs in a savepoint inside it (``world``), so what one test changes is gone for the next."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture
def world(world_once: World, db: Any) -> World:
    return world_once


def build_world() -> World:
    users = {
        name: create_user(name)
        for name in ("olivia", "adam", "mia", "nadia", "ivan", "oscar", "stella", "tess", "gina")
    }
    users["stella"].is_staff = True
    users["stella"].save(update_fields=["is_staff"])
    users["stella"].user_permissions.add(Permission.objects.get(codename="manage_all_groups"))
    users["tess"].is_staff = True
    users["tess"].save(update_fields=["is_staff"])

    acme = group_create(actor=users["olivia"], slug="acme", name="Acme")
    join_group(owner=users["olivia"], group=acme, user=users["adam"], role=Membership.Role.ADMIN)
    join_group(owner=users["olivia"], group=acme, user=users["mia"])
    join_group(owner=users["olivia"], group=acme, user=users["nadia"])
    membership_set(actor=users["olivia"], org=acme, username="ivan")  # invited, never accepted
    globex = group_create(actor=users["gina"], slug="globex", name="Globex")
    join_group(owner=users["gina"], group=globex, user=users["tess"], role=Membership.Role.ADMIN)

    keys = {
        "own": _store_key(users["olivia"], KeyOwner(user=users["olivia"]), OWN_KEY),
        "acme": _store_key(
            users["olivia"], KeyOwner(organization=acme), ACME_KEY, AllowedUsers(("adam", "mia", "olivia"))
        ),
        "globex": _store_key(users["gina"], KeyOwner(organization=globex), GLOBEX_KEY),
    }
    world = World(users={u.username: User.objects.get(pk=u.pk) for u in users.values()}, groups={}, keys=keys)
    world.groups = {"acme": acme, "globex": globex}
    for name in ("olivia", "adam", "mia", "nadia", "ivan", "oscar", "stella", "tess", "gina"):
        token, plaintext = api_token_create(user=users[name], name="matrix")
        world.tokens[name] = plaintext
        world.token_ids[name] = token.prefix
    revoked, world.tokens["olivia:revoked"] = api_token_create(user=users["olivia"], name="revoked")
    ApiToken.objects.filter(pk=revoked.pk).update(revoked_at=timezone.now())
    expired, world.tokens["olivia:expired"] = api_token_create(
        user=users["olivia"], name="expired", expires_at=timezone.now() + timedelta(days=1)
    )
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return world
