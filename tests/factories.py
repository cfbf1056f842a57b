"""Shared example keys, provider URLs and factory helpers for the tests.

Test modules import from here, never from each other or from ``conftest`` (which holds fixtures only).
Provider-specific fakes for ``tests/providers`` live in that directory.
"""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from byok_keys.services import KeyOwner, api_token_create, provider_key_set
from groups.models import Membership, Organization, User
from groups.services import membership_accept, membership_set

# ---- Example keys: real-shaped and distinctive, never valid anywhere -------------------------------
OPENAI_KEY = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0" * 2 + "T3BlbkFJ" + "k1L2m3N4o5P6q7R8s9T0" * 2
ANTHROPIC_KEY = "sk-ant-api03-" + ("Zq9" * 31) + "AA"
GROQ_KEY = "gsk_" + "Q" * 20 + "w" * 20 + "1" * 12
MISTRAL_KEY = "Zx9" * 11  # no prefix: the generic log filter cannot recognise it
# An OpenAI key served from the environment (OPENAI_API_KEY) when system keys are allowed.
SYSTEM_OPENAI_KEY = "sk-proj-" + "SystemKey000" * 4 + "T3BlbkFJ" + "x" * 20

# ---- Provider endpoints the mocked calls go to -------------------------------------------------
OPENAI_MODELS_URL = "https://api.openai.com/v1/models"
OPENAI_CHAT_URL = "https://api.openai.com/v1/chat/completions"
GROQ_MODELS_URL = "https://api.groq.com/openai/v1/models"
MISTRAL_MODELS_URL = "https://api.mistral.ai/v1/models"
MISTRAL_CHAT_URL = "https://api.mistral.ai/v1/chat/completions"

# ---- DNS without a network (used by the ``fake_dns`` fixture) -----------------------------------
# Host names the tests resolve without a network; anything else resolves to a public address.
FAKE_DNS: dict[str, str] = {"internal.example.com": "10.1.2.3", "metadata.example.com": "169.254.169.254"}
PUBLIC_TEST_ADDRESS = "52.1.2.3"


# ---- Factories --------------------------------------------------------------------------------
def create_user(username: str, **extra: Any) -> User:
    """A user whose password is ``pw-<username>``."""
    return User.objects.create_user(username=username, password="pw-" + username, **extra)


def make_client(user: User) -> APIClient:
    """An API client authenticated with a fresh API token of ``user`` (kept as ``client.token``)."""
    _, token = api_token_create(user=user, name="tests")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    client.token = token  # type: ignore[attr-defined]
    return client


def join_group(*, owner: User, group: Organization, user: User, role: str = Membership.Role.MEMBER) -> User:
    """``owner`` adds ``user`` to ``group`` and ``user`` accepts; returns the user fresh from the database."""
    membership_set(actor=owner, org=group, username=user.username, role=role)
    membership_accept(user=user, org=group)
    return User.objects.get(pk=user.pk)


def store_user_key(user: User, provider: str = "openai", raw: Any = OPENAI_KEY, **extra: Any) -> ProviderKey:
    """``user`` stores their own key through the service (validation goes through the provider mock)."""
    return provider_key_set(actor=user, owner=KeyOwner(user=user), provider=provider, raw=raw, **extra).key


def store_group_key(
    actor: User, group: Organization, provider: str = "openai", raw: Any = OPENAI_KEY, **extra: Any
) -> ProviderKey:
    """``actor`` stores a key for ``group`` through the service."""
    return provider_key_set(actor=actor, owner=KeyOwner(organization=group), provider=provider, raw=raw, **extra).key


def put_group_key(client: APIClient, body: dict[str, Any], provider: str = "openai", group: str = "acme") -> Any:
    """Store a group key through the API (``POST /api/byok/groups/<group>/keys/<provider>``)."""
    return client.post(f"/api/byok/groups/{group}/keys/{provider}", body, format="json")
