"""Group keys through the API (``/api/byok/groups/<group>/keys/<provider>``): who may manage them, and
``allowedUsers``, the members a key is shared with."""

from __future__ import annotations

from collections.abc import Callable

from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from groups.models import AuditEvent, Organization, User
from tests.factories import GROQ_KEY, OPENAI_KEY, put_group_key

ClientFor = Callable[[User], APIClient]


def test_owner_stores_a_group_key_for_all_members(
    client_for: ClientFor, owner: User, member: User, group: Organization
) -> None:
    response = put_group_key(client_for(owner), {"apiKey": OPENAI_KEY, "name": "Shared"})
    assert response.status_code == 201, response.content
    assert response.json()["keyId"].startswith("byok_group_openai_")
    body = client_for(member).get("/api/byok/keys").json()
    assert body["groupId"] == "acme"
    assert body["groups"] == ["acme"]
    row = next(p for p in body["providers"] if p["provider"] == "openai")
    assert row["hasGroupKey"] is True and row["hasUserKey"] is False
    assert body["groupKeys"][0]["allowedUsers"] == "all"
    assert AuditEvent.objects.filter(action="key.created", organization=group).exists()


def test_group_admin_can_manage_group_keys(client_for: ClientFor, group_admin: User, group: Organization) -> None:
    assert put_group_key(client_for(group_admin), {"apiKey": OPENAI_KEY}).status_code == 201
    assert client_for(group_admin).delete("/api/byok/groups/acme/keys/openai").status_code == 200
    assert not ProviderKey.objects.filter(organization=group).exists()


def test_staff_can_manage_any_group_keys(client_for: ClientFor, staff: User, group: Organization) -> None:
    assert put_group_key(client_for(staff), {"apiKey": OPENAI_KEY}).status_code == 201


def test_members_cannot_manage_group_keys(client_for: ClientFor, member: User, group: Organization) -> None:
    response = put_group_key(client_for(member), {"apiKey": OPENAI_KEY})
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_role"
    assert not ProviderKey.objects.exists()


def test_allowed_users_is_stored_and_enforced_in_has_group_key(
    client_for: ClientFor, owner: User, member: User, group_admin: User, group: Organization
) -> None:
    response = put_group_key(client_for(owner), {"apiKey": GROQ_KEY, "allowedUsers": ["adam"]}, provider="groq")
    assert response.status_code == 201, response.content
    key = ProviderKey.objects.get(organization=group, provider="groq")
    assert key.allow_all_members is False
    assert [u.username for u in key.allowed_users.all()] == ["adam"]

    def has_group_key(user: User) -> bool:
        body = client_for(user).get("/api/byok/keys").json()
        return next(p for p in body["providers"] if p["provider"] == "groq")["hasGroupKey"]

    assert has_group_key(group_admin) is True
    assert has_group_key(member) is False  # test_member_not_in_allowed_users_cannot_use_group_key
    body = client_for(member).get("/api/byok/keys").json()
    assert body["groupKeys"][0]["allowedUsers"] == ["adam"]
    assert body["groupKeys"][0]["usableByMe"] is False


def test_allowed_users_naming_a_non_member_is_refused(
    client_for: ClientFor, owner: User, outsider: User, group: Organization
) -> None:
    response = put_group_key(client_for(owner), {"apiKey": OPENAI_KEY, "allowedUsers": ["oscar"]})
    assert response.status_code == 400
    assert response.json()["code"] == "allowed_user_not_member"
    assert "oscar" in response.json()["error"]
    assert not ProviderKey.objects.exists()


def test_allowed_users_naming_an_invitee_says_they_have_not_accepted(
    client_for: ClientFor, owner: User, outsider: User, group: Organization
) -> None:
    client = client_for(owner)
    client.post("/api/byok/groups/acme/users/oscar", {}, format="json")
    response = put_group_key(client, {"apiKey": OPENAI_KEY, "allowedUsers": ["oscar"]})
    assert response.status_code == 400
    assert response.json()["code"] == "allowed_user_not_accepted"


def test_allowed_users_of_the_wrong_type_is_refused(client_for: ClientFor, owner: User, group: Organization) -> None:
    response = put_group_key(client_for(owner), {"apiKey": OPENAI_KEY, "allowedUsers": "some"})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_allowed_users"


def test_replacing_a_group_key_without_allowed_users_keeps_the_list(
    client_for: ClientFor, owner: User, member: User, group_admin: User, group: Organization
) -> None:
    client = client_for(owner)
    put_group_key(client, {"apiKey": OPENAI_KEY, "allowedUsers": ["adam"]})
    response = put_group_key(client, {"apiKey": OPENAI_KEY[:-4] + "NEW1"})
    assert response.status_code == 200
    key = ProviderKey.objects.get(organization=group)
    assert key.allow_all_members is False
    assert [u.username for u in key.allowed_users.all()] == ["adam"]
    assert key.last4 == "NEW1"


def test_removed_member_loses_allowed_users_entry(
    client_for: ClientFor, owner: User, member: User, group: Organization
) -> None:
    put_group_key(client_for(owner), {"apiKey": OPENAI_KEY, "allowedUsers": ["mia"]})
    client_for(owner).delete("/api/byok/groups/acme/users/mia")
    assert not ProviderKey.objects.get(organization=group).allowed_users.exists()


def test_patch_changes_who_may_use_a_group_key_without_a_new_secret(
    client_for: ClientFor, owner: User, member: User, group: Organization
) -> None:
    owner_api = client_for(owner)
    put_group_key(owner_api, {"apiKey": OPENAI_KEY})
    key = ProviderKey.objects.get(organization=group)
    response = owner_api.patch(
        "/api/byok/groups/acme/keys/openai", {"allowedUsers": [owner.username], "name": "Team"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["key"]["allowedUsers"] == [owner.username]
    after = ProviderKey.objects.get(pk=key.pk)
    assert (after.name, after.allow_all_members, after.sealed_secret) == ("Team", False, key.sealed_secret)
    groups_keys = client_for(member).get("/api/byok/keys").json()["groupKeys"]
    assert [k["usableByMe"] for k in groups_keys] == [False]
    assert AuditEvent.objects.filter(action="key.updated", target_id=key.key_id).exists()


def test_members_cannot_patch_group_keys(client_for: ClientFor, owner: User, member: User, group: Organization) -> None:
    put_group_key(client_for(owner), {"apiKey": OPENAI_KEY})
    response = client_for(member).patch("/api/byok/groups/acme/keys/openai", {"name": "mine"}, format="json")
    assert response.status_code == 403
    assert ProviderKey.objects.get(organization=group).name != "mine"
