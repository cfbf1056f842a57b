"""After storing distinctive keys through the API and the admin, the plaintext occurs nowhere in the
database (every table dumped), nor in any response or admin page."""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from byok_keys.models import ApiToken, ProviderKey
from groups.models import AuditEvent, Organization, User

API_SECRET = "sk-proj-" + "DistinctiveApiSecret0042" * 3 + "T3BlbkFJ" + "Zz9" * 20
ADMIN_SECRET = "sk-ant-api03-" + "DistinctiveAdminSecret" * 4 + "q" * 5 + "AA"
CONFIG_SECRET = "Q" * 28 + "Zx42"


def dump_database() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_plaintext_occurs_nowhere(client_for: Any, owner: User, group: Organization, superuser: User) -> None:
    api: APIClient = client_for(owner)
    pages: list[str] = []
    r1 = api.post("/api/byok/keys/openai", {"apiKey": API_SECRET}, format="json")
    r2 = api.post(
        "/api/byok/groups/acme/keys/azure",
        {
            "apiKey": {
                "endpoint_url": "https://acme.openai.azure.com",
                "api_key": CONFIG_SECRET,
                "deployment_id": "d",
            }
        },
        format="json",
    )
    assert r1.status_code == 201 and r2.status_code == 201
    pages += [r1.content.decode(), r2.content.decode()]
    admin = Client()
    admin.force_login(superuser)
    add = admin.post(
        reverse("admin:byok_keys_providerkey_add"),
        {"provider": "anthropic", "owner_user": owner.username, "secret": ADMIN_SECRET, "name": "admin"},
    )
    assert add.status_code == 302
    assert ProviderKey.objects.count() == 3
    # A failed admin submission does not echo the secret back either.
    bad = admin.post(
        reverse("admin:byok_keys_providerkey_add"),
        {"provider": "openai", "owner_user": owner.username, "secret": ADMIN_SECRET},
    )
    pages.append(bad.content.decode())

    pages += [
        api.get(path).content.decode()
        for path in ["/api/byok/keys", "/api/byok/stats", "/api/byok/groups/acme", "/api/byok/groups"]
    ]
    for name in ("byok_keys_providerkey", "groups_auditevent", "byok_keys_apitoken"):
        pages.append(admin.get(reverse(f"admin:{name}_changelist")).content.decode())
    for key in ProviderKey.objects.all():
        pages.append(admin.get(reverse("admin:byok_keys_providerkey_change", args=[key.pk])).content.decode())
    for event in AuditEvent.objects.all():
        pages.append(admin.get(reverse("admin:groups_auditevent_change", args=[event.pk])).content.decode())
    pages.append(admin.get(reverse("admin:groups_organization_change", args=[group.pk])).content.decode())

    database = dump_database()
    assert "byok:v1:" in database  # the dump really covers the keys table
    for secret in (API_SECRET, ADMIN_SECRET, CONFIG_SECRET):
        assert secret not in database
        for page in pages:
            assert secret not in page
    # API tokens are stored as digests only.
    token = api.token  # type: ignore[attr-defined]
    assert ApiToken.objects.exists()
    assert token not in database
