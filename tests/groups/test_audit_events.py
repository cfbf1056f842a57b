"""What the audit log records: every action the issue lists writes an event with its actor, target and
client address, staff actions on groups they are not in are flagged, and no event holds a secret."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import responses
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from groups.models import AuditEvent, Organization, User
from groups.services import membership_set
from tests.factories import OPENAI_KEY, OPENAI_MODELS_URL, make_client, store_user_key

# A distinctive secret: it must never appear in any audit row or export.
CANARY = "sk-proj-" + "AuditCanary7q" * 3 + "T3BlbkFJ" + "ZzCanaryTail9" * 3
CANARY_2 = CANARY[:-6] + "Second"
MASTER_KEY_B = "ff" * 32


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))


def everything_recorded() -> str:
    """Every column of every event, plus the export the SIEM gets."""
    rows = [
        [str(value) for value in row]
        for row in AuditEvent.objects.values_list(
            "actor_label", "action", "target_type", "target_id", "ip_address", "details", "hash", "prev_hash"
        )
    ]
    out = StringIO()
    call_command("byok_audit_export", "--since", "2000-01-01", stdout=out, stderr=StringIO())
    return json.dumps(rows) + out.getvalue()


def test_key_add_test_replace_status_change_and_delete_are_recorded_and_never_hold_the_secret(
    api: APIClient, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})  # add: valid
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=401, json={"error": {"message": "bad"}})  # test
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=401, json={"error": {"message": "bad"}})  # body
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})  # replace: valid
    assert api.post("/api/byok/keys/openai", {"apiKey": CANARY}, format="json").status_code == 201
    assert api.post("/api/byok/keys/openai/test", {}, format="json").json()["status"] == "invalid"
    assert api.post("/api/byok/keys/openai/test", {"apiKey": CANARY_2}, format="json").status_code == 200
    assert api.post("/api/byok/keys/openai", {"apiKey": CANARY_2}, format="json").status_code == 200
    assert api.delete("/api/byok/keys/openai").status_code == 200
    recorded = [a for a in actions() if a.startswith("key.")]
    assert recorded == ["key.created", "key.status_changed", "key.tested", "key.replaced", "key.deleted"]
    event = AuditEvent.objects.get(action="key.created")
    assert (event.actor_label, event.target_type, event.ip_address) == ("olivia", "provider_key", "127.0.0.1")
    dump = everything_recorded()
    assert "key.deleted" in dump
    for secret in (CANARY, CANARY_2, CANARY[8:40], CANARY_2[-30:]):
        assert secret not in dump


def test_membership_and_role_changes_are_recorded(
    client_for: Any, owner: User, group: Organization, make_user: Any
) -> None:
    nina = make_user("nina")
    api = client_for(owner)
    api.post("/api/byok/groups/acme/users/nina", {"role": "member"}, format="json")
    client_for(nina).post("/api/byok/groups/acme/join")
    api.post("/api/byok/groups/acme/users/nina", {"role": "admin"}, format="json")
    api.delete("/api/byok/groups/acme/users/nina")
    group_events = AuditEvent.objects.filter(organization=group).order_by("sequence")
    assert [e.action for e in group_events][-4:] == [
        "membership.invited",
        "membership.accepted",
        "membership.role_changed",
        "membership.removed",
    ]
    assert group_events.get(action="membership.role_changed").details == {"from": "member", "to": "admin"}


def test_token_create_and_revoke_are_recorded(api: APIClient) -> None:
    created = api.post("/api/byok/tokens", {"name": "ci"}, format="json").json()
    api.delete(f"/api/byok/tokens/{created['tokenId']}")
    assert AuditEvent.objects.filter(action="token.created", target_id=created["tokenId"]).exists()
    assert AuditEvent.objects.filter(action="token.revoked", target_id=created["tokenId"]).exists()
    assert created["token"] not in everything_recorded()


def test_a_failed_sign_in_records_the_account_and_address_never_the_password(owner: User) -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    response = client.post("/accounts/login/", {"username": "olivia", "password": "Wrong-Pa55word-Canary"})
    assert response.status_code == 200  # the form again, with an error
    event = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert (event.actor, event.target_type, event.target_id, event.ip_address) == (
        None,
        "user",
        "olivia",
        "203.0.113.9",
    )
    assert "Wrong-Pa55word-Canary" not in everything_recorded()


def test_a_failed_sign_in_for_an_unknown_name_does_not_record_the_name(db: Any) -> None:
    # People type their password into the username box: an unknown name may be a secret.
    typed = "Correct-Horse-Battery-Staple-9"
    Client().post("/accounts/login/", {"username": typed, "password": "whatever"})
    event = AuditEvent.objects.get(action="auth.sign_in_failed")
    assert (event.target_id, event.details) == ("", {"unknownAccount": True})
    assert typed not in everything_recorded()


def test_a_sign_in_is_recorded(owner: User) -> None:
    client = Client(REMOTE_ADDR="198.51.100.7")
    response = client.post("/accounts/login/", {"username": "olivia", "password": "pw-olivia"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.signed_in")
    assert (event.actor, event.target_id, event.ip_address) == (owner, "olivia", "198.51.100.7")


def test_a_master_key_rotation_records_each_resealed_key(owner: User, settings: Any) -> None:
    key = store_user_key(owner)
    settings.BYOK_PREVIOUS_ENCRYPTION_KEYS = [settings.BYOK_ENCRYPTION_KEY]
    settings.BYOK_ENCRYPTION_KEY = MASTER_KEY_B
    call_command("byok_reseal", stdout=StringIO(), stderr=StringIO())
    event = AuditEvent.objects.get(action="key.resealed")
    assert (event.actor, event.target_id) == (None, key.key_id)
    assert OPENAI_KEY not in everything_recorded()


def test_platform_staff_acting_on_a_group_they_are_not_in_is_flagged(
    staff: User, owner: User, group: Organization, make_user: Any
) -> None:
    make_user("nina")
    membership_set(actor=staff, org=group, username="nina")
    by_staff = AuditEvent.objects.get(action="membership.added", target_id="acme/nina")
    assert by_staff.details == {"role": "member", "staff": True}
    assert by_staff.actor == staff
    make_user("noah")
    membership_set(actor=owner, org=group, username="noah")
    assert "staff" not in AuditEvent.objects.get(action="membership.invited", target_id="acme/noah").details


def test_platform_staff_acting_as_an_accepted_member_is_not_flagged(
    staff: User, owner: User, group: Organization, make_user: Any
) -> None:
    membership_set(actor=owner, org=group, username=staff.username, role="admin")
    client_for_staff = make_client(staff)
    client_for_staff.post("/api/byok/groups/acme/join")
    make_user("nina")
    client_for_staff.post("/api/byok/groups/acme/users/nina", {"role": "member"}, format="json")
    assert AuditEvent.objects.get(action="membership.added", target_id="acme/nina").details == {"role": "member"}
