"""Groups and their members through the API: creating and listing groups, inviting, accepting,
leaving and removing members, and who may do what. Group keys are in tests/byok_keys/test_api_group_keys.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from groups.models import AuditEvent, Membership, Organization, User
from tests.factories import OPENAI_KEY, put_group_key

ClientFor = Callable[[User], APIClient]


def test_members_cannot_manage_members(
    client_for: ClientFor, member: User, outsider: User, group: Organization
) -> None:
    response = client_for(member).post(f"/api/byok/groups/acme/users/{outsider.username}", {}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/byok/groups/acme"),
        ("post", "/api/byok/groups/acme/keys/openai"),
        ("delete", "/api/byok/groups/acme/keys/openai"),
        ("post", "/api/byok/groups/acme/users/mia"),
        ("delete", "/api/byok/groups/acme/users/mia"),
    ],
)
def test_outsiders_get_404_for_every_group_endpoint(
    client_for: ClientFor, outsider: User, member: User, method: str, path: str
) -> None:
    response = getattr(client_for(outsider), method)(path, {"apiKey": OPENAI_KEY}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "group_not_found"


def test_unknown_group_is_404_like_another_groups(client_for: ClientFor, owner: User) -> None:
    assert client_for(owner).get("/api/byok/groups/nope").status_code == 404


def test_owner_invites_a_user_who_accepts_then_is_removed(
    client_for: ClientFor, owner: User, outsider: User, group: Organization
) -> None:
    client = client_for(owner)
    response = client.post("/api/byok/groups/acme/users/oscar", {"role": "admin"}, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "invited"
    membership = Membership.objects.get(user=outsider, organization=group)
    assert (membership.role, membership.is_active, membership.invited_by) == ("admin", False, owner)
    # Until the invitation is accepted, the group gives nothing: no access, no default group.
    guest = client_for(outsider)
    assert guest.get("/api/byok/groups/acme").status_code == 404
    assert guest.get("/api/byok/groups").json()["groups"] == [
        {"id": "acme", "name": "Acme", "role": "admin", "status": "invited", "isDefault": False}
    ]
    assert User.objects.get(pk=outsider.pk).default_group is None
    accepted = guest.post("/api/byok/groups/acme/join", {}, format="json")
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "active"
    assert User.objects.get(pk=outsider.pk).default_group == group
    assert guest.get("/api/byok/groups/acme").status_code == 200
    response = client.delete("/api/byok/groups/acme/users/oscar")
    assert response.status_code == 200
    assert not Membership.objects.filter(user=outsider).exists()
    assert User.objects.get(pk=outsider.pk).default_group is None
    actions = list(AuditEvent.objects.filter(organization=group).values_list("action", flat=True))
    assert {"membership.invited", "membership.accepted", "membership.removed"} <= set(actions)


def test_an_invited_users_calls_never_use_the_groups_keys(
    client_for: ClientFor, owner: User, outsider: User, group: Organization
) -> None:
    put_group_key(client_for(owner), {"apiKey": OPENAI_KEY})
    client_for(owner).post("/api/byok/groups/acme/users/oscar", {}, format="json")
    body = client_for(outsider).get("/api/byok/keys").json()
    assert next(p for p in body["providers"] if p["provider"] == "openai")["hasGroupKey"] is False
    assert client_for(outsider).get("/api/byok/resolve?provider=openai").json()["code"] == "no_key_for_provider"
    assert client_for(outsider).get("/api/byok/resolve?provider=openai&group=acme").status_code == 404


def test_an_invitee_can_decline_and_a_member_can_leave(
    client_for: ClientFor, owner: User, member: User, outsider: User, group: Organization
) -> None:
    client_for(owner).post("/api/byok/groups/acme/users/oscar", {}, format="json")
    assert client_for(outsider).delete("/api/byok/groups/acme/users/oscar").status_code == 200
    assert not Membership.objects.filter(user=outsider).exists()
    assert client_for(member).delete("/api/byok/groups/acme/users/mia").status_code == 200
    assert not Membership.objects.filter(user=member).exists()
    assert AuditEvent.objects.filter(action="membership.left", target_id="acme/mia").exists()
    # The last owner cannot leave.
    assert client_for(owner).delete("/api/byok/groups/acme/users/olivia").status_code == 409


def test_joining_without_an_invitation_is_404(client_for: ClientFor, outsider: User, group: Organization) -> None:
    assert client_for(outsider).post("/api/byok/groups/acme/join", {}, format="json").status_code == 404


def test_platform_staff_add_members_directly(
    client_for: ClientFor, staff: User, outsider: User, group: Organization
) -> None:
    response = client_for(staff).post("/api/byok/groups/acme/users/oscar", {}, format="json")
    assert response.json()["status"] == "active"


def test_unknown_user_or_role_is_refused(client_for: ClientFor, owner: User, group: Organization) -> None:
    client = client_for(owner)
    assert client.post("/api/byok/groups/acme/users/ghost", {}, format="json").json()["code"] == "user_not_found"
    response = client.post("/api/byok/groups/acme/users/olivia", {"role": "king"}, format="json")
    assert response.status_code == 400


def test_the_last_owner_cannot_be_removed(client_for: ClientFor, owner: User, group: Organization) -> None:
    response = client_for(owner).delete("/api/byok/groups/acme/users/olivia")
    assert response.status_code == 409
    assert response.json()["code"] == "last_owner"
    assert Membership.objects.filter(user=owner, organization=group, role="owner").exists()


def test_group_admin_cannot_touch_owners(client_for: ClientFor, group_admin: User, owner: User, outsider: User) -> None:
    client = client_for(group_admin)
    assert client.delete("/api/byok/groups/acme/users/olivia").status_code == 403
    assert client.post("/api/byok/groups/acme/users/oscar", {"role": "owner"}, format="json").status_code == 403
    assert client.post("/api/byok/groups/acme/users/oscar", {"role": "member"}, format="json").status_code == 201


def test_create_list_and_show_groups(client_for: ClientFor, owner: User, member: User, group: Organization) -> None:
    client = client_for(owner)
    response = client.post("/api/byok/groups", {"id": "research", "name": "Research"}, format="json")
    assert response.status_code == 201
    assert Membership.objects.get(user=owner, organization__slug="research").role == "owner"
    groups = client.get("/api/byok/groups").json()["groups"]
    assert [g["id"] for g in groups] == ["acme", "research"]
    assert groups[0]["isDefault"] is True
    detail = client_for(member).get("/api/byok/groups/acme").json()["group"]
    assert {m["userId"]: m["role"] for m in detail["members"]} == {"olivia": "owner", "mia": "member"}


def test_duplicate_or_bad_group_id_is_refused(client_for: ClientFor, owner: User, group: Organization) -> None:
    client = client_for(owner)
    assert client.post("/api/byok/groups", {"id": "acme"}, format="json").status_code == 409
    assert client.post("/api/byok/groups", {"id": "Bad Id!"}, format="json").json()["code"] == "invalid_group_id"


def test_platform_staff_cannot_add_themselves_to_a_group_or_use_its_keys(
    client_for: Any, staff: User, owner: User, group: Organization
) -> None:

    response = client_for(staff).post(f"/api/byok/groups/acme/users/{staff.username}", {}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "self_join_refused")
    assert not Membership.objects.filter(user=staff, organization=group).exists()
    # Invited by an owner, staff join like anyone and then use the group's keys as a member.
    client_for(owner).post(f"/api/byok/groups/acme/users/{staff.username}", {}, format="json")
    assert client_for(staff).post("/api/byok/groups/acme/join").status_code == 200
