"""A database made by an older schema migrates forward with no data change.

The floor-plan change moved ``AuditEvent`` to ``groups`` and the usage models to ``gateway`` with
state-only migrations (their tables keep their names); this test populates a database at the schema
of the last release before the move and checks every row is still there, read through today's models.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from byok_keys.models import ProviderKey
from gateway.models import UsageRecord, UsageRollup, UsageTotal
from groups.models import AuditEvent, Membership, Organization, User

BEFORE_THE_MOVE = [("groups", "0002_invitations"), ("byok_keys", "0003_usage"), ("gateway", None)]


def _migrate(targets: list[tuple[str, str | None]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_move_migrates_forward_with_every_row() -> None:
    old = _migrate(BEFORE_THE_MOVE)
    OldUser = old.get_model("groups", "User")
    OldOrganization = old.get_model("groups", "Organization")
    OldMembership = old.get_model("groups", "Membership")
    OldKey = old.get_model("byok_keys", "ProviderKey")
    OldEvent = old.get_model("byok_keys", "AuditEvent")
    OldRecord = old.get_model("byok_keys", "UsageRecord")
    OldTotal = old.get_model("byok_keys", "UsageTotal")

    user = OldUser.objects.create(username="mira", password="!")
    org = OldOrganization.objects.create(slug="acme", name="Acme")
    OldMembership.objects.create(user=user, organization=org, role="owner")
    key = OldKey.objects.create(
        key_id="byok_user_openai_0001", user=user, provider="openai", sealed_secret="byok:v1:x:y", last4="abcd"
    )
    OldEvent.objects.create(
        actor=user,
        actor_label="mira",
        action="key.created",
        target_type="provider_key",
        target_id=key.key_id,
        organization=org,
        details={"last4": "abcd"},
    )
    OldRecord.objects.create(
        user=user,
        provider_key=key,
        key_label=key.key_id,
        source="user",
        provider="openai",
        model="gpt-4o-mini",
        prompt_tokens=3,
        completion_tokens=4,
        total_tokens=7,
        status="ok",
    )
    OldTotal.objects.create(user=user, provider="openai", source="user", calls=1, total_tokens=7)
    # Staff who could read the logs in the admin keep that permission (it hangs off a content type).
    ContentType = old.get_model("contenttypes", "ContentType")
    Permission = old.get_model("auth", "Permission")
    for model in ("auditevent", "usagerecord"):
        content_type, _ = ContentType.objects.get_or_create(app_label="byok_keys", model=model)
        permission, _ = Permission.objects.get_or_create(
            content_type=content_type, codename=f"view_{model}", defaults={"name": f"Can view {model}"}
        )
        user.user_permissions.add(permission)

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    event = AuditEvent.objects.get()
    assert (event.actor_label, event.action, event.target_id, event.organization.slug, event.details) == (
        "mira",
        "key.created",
        "byok_user_openai_0001",
        "acme",
        {"last4": "abcd"},
    )
    record = UsageRecord.objects.get()
    assert (record.user.username, record.provider_key.key_id, record.model, record.total_tokens) == (
        "mira",
        "byok_user_openai_0001",
        "gpt-4o-mini",
        7,
    )
    total = UsageTotal.objects.get()
    assert (total.user.username, total.calls, total.total_tokens) == ("mira", 1, 7)
    # The totals were rebuilt per UTC day from the records, and the roll-up starts after the last one
    # (the key's count already includes it).
    assert total.day == record.created_at.date()
    assert UsageRollup.objects.get().watermark == ProviderKey.objects.get().usage_rolled_up_to == record.pk
    assert ProviderKey.objects.get().key_id == "byok_user_openai_0001"
    assert Membership.objects.get().organization == Organization.objects.get(slug="acme")
    mira = User.objects.get(username="mira")
    assert mira.has_perm("groups.view_auditevent") and mira.has_perm("gateway.view_usagerecord")
