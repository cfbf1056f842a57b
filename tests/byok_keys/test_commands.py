"""The management commands of the vault that hand out access: ``create_api_token`` and
``bootstrap_local`` (``byok_revalidate`` and ``byok_reseal`` are tested in test_revalidate.py and
test_crypto.py)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from rest_framework.test import APIClient

from byok_keys.models import ApiToken
from groups.models import User


def test_create_api_token_prints_a_working_token_as_last_line(owner: User) -> None:
    out, err = StringIO(), StringIO()
    call_command("create_api_token", owner.username, "--name", "laptop", stdout=out, stderr=err)
    token = out.getvalue().strip().splitlines()[-1]
    assert token.startswith("byokt_")
    stored = ApiToken.objects.get(user=owner)
    assert stored.name == "laptop"
    assert token not in stored.digest
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/byok/keys").status_code == 200


def test_create_api_token_for_unknown_user_fails_clearly(db: Any) -> None:
    with pytest.raises(CommandError, match="No user named 'ghost'"):
        call_command("create_api_token", "ghost")


@override_settings(BYOK_LOCAL_BOOTSTRAP=True)
def test_bootstrap_local_creates_admin_and_token_once(db: Any) -> None:
    out = StringIO()
    call_command("bootstrap_local", stdout=out)
    text = out.getvalue()
    assert "user: admin" in text
    token = text.split("API token: ")[1].split()[0]
    assert User.objects.get(username="admin").is_superuser
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/byok/keys").status_code == 200
    again = StringIO()
    call_command("bootstrap_local", stdout=again)
    assert again.getvalue() == ""


def test_bootstrap_local_refuses_outside_local_settings(db: Any) -> None:
    with pytest.raises(CommandError, match="local"):
        call_command("bootstrap_local")
