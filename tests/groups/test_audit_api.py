"""``GET /api/byok/audit``: a user's own events, a group's events for its owners and admins, filters and
pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from byok_keys.services import provider_key_record_validation, provider_key_revoke
from groups.audit import audit_record
from groups.models import AuditEvent, Organization, User
from providers.validation import KeyStatus, ValidationResult
from tests.factories import ANTHROPIC_KEY, store_group_key, store_user_key

ClientFor = Callable[[User], APIClient]


def audit(client: APIClient, **params: Any) -> Any:
    return client.get("/api/byok/audit", params)


def events(client: APIClient, **params: Any) -> list[dict[str, Any]]:
    response = audit(client, **params)
    assert response.status_code == 200, response.content
    return response.json()["events"]  # type: ignore[no-any-return]


@pytest.fixture
def group_with_history(owner: User, group: Organization, member: User) -> Organization:
    store_group_key(owner, group)
    return group


# ---- a group's events --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["owner", "group_admin", "staff"])
def test_owners_admins_and_platform_staff_see_a_groups_events(
    persona: str, request: pytest.FixtureRequest, group_with_history: Organization, client_for: ClientFor
) -> None:
    user = request.getfixturevalue(persona)
    seen = events(client_for(user), group="acme")
    assert {"group.created", "membership.invited", "membership.accepted", "key.created"} <= {e["action"] for e in seen}
    assert {e["groupId"] for e in seen} == {"acme"}


def test_a_member_without_the_role_is_refused_a_groups_events(
    member: User, group_with_history: Organization, client_for: ClientFor
) -> None:
    response = audit(client_for(member), group="acme")
    assert (response.status_code, response.json()["code"]) == (403, "insufficient_role")


def test_an_outsider_gets_404_for_a_groups_events(
    outsider: User, group_with_history: Organization, client_for: ClientFor
) -> None:
    for slug in ("acme", "no-such-group"):
        response = audit(client_for(outsider), group=slug)
        assert (response.status_code, response.json()["code"]) == (404, "group_not_found")


def test_anonymous_callers_get_401(db: Any) -> None:
    response = APIClient().get("/api/byok/audit")
    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


def test_a_group_owner_does_not_see_another_groups_events(
    owner: User, group_with_history: Organization, client_for: ClientFor, make_user: Any
) -> None:
    from groups.services import group_create

    group_create(actor=make_user("zed"), slug="other", name="Other")
    seen = events(client_for(owner), group="acme", limit=200)
    assert "other" not in {e["groupId"] for e in seen}
    assert audit(client_for(owner), group="other").status_code == 404


# ---- a user's own events -----------------------------------------------------------------------


def test_a_user_sees_what_they_did_and_what_happened_to_their_keys_and_account(
    owner: User, staff: User, client_for: ClientFor
) -> None:
    key = store_user_key(owner)
    # The scheduled revalidation (no actor) and platform staff act on the owner's key.
    provider_key_record_validation(key=key, result=ValidationResult(KeyStatus.INVALID, "revoked upstream"), actor=None)
    provider_key_revoke(actor=staff, key=key)
    Client(REMOTE_ADDR="203.0.113.9").post("/accounts/login/", {"username": "olivia", "password": "nope"})
    seen = events(client_for(owner), limit=200)
    by_action = {e["action"]: e for e in seen}
    assert {"key.created", "key.status_changed", "key.revoked", "token.created", "auth.sign_in_failed"} <= set(
        by_action
    )
    assert by_action["key.status_changed"]["actor"] is None
    assert by_action["key.revoked"]["actor"] == "stella"
    assert (by_action["auth.sign_in_failed"]["targetId"], by_action["auth.sign_in_failed"]["ip"]) == (
        "olivia",
        "203.0.113.9",
    )


def test_a_user_never_sees_another_users_personal_events(
    owner: User, outsider: User, staff: User, client_for: ClientFor
) -> None:
    theirs = store_user_key(outsider, provider="anthropic", raw=ANTHROPIC_KEY)
    provider_key_revoke(actor=staff, key=theirs)
    Client().post("/accounts/login/", {"username": "oscar", "password": "nope"})
    client_for(outsider).post("/api/byok/tokens", {"name": "theirs"}, format="json")
    store_user_key(owner)
    seen = events(client_for(owner), limit=200)
    assert seen, "the owner has events of their own"
    assert all("oscar" not in (e["actor"] or "") and "oscar" not in e["targetId"] for e in seen)
    assert theirs.key_id not in {e["targetId"] for e in seen}
    assert not [e for e in seen if e["actor"] == "stella"]


def test_personal_events_leave_out_group_events_done_by_others(
    member: User, group_with_history: Organization, client_for: ClientFor
) -> None:
    seen = events(client_for(member), limit=200)
    assert "key.created" not in {e["action"] for e in seen}  # the owner stored the group key
    assert "membership.accepted" in {e["action"] for e in seen}  # the member accepted themself


# ---- filters and pages -------------------------------------------------------------------------


def test_action_filters_exactly_or_by_prefix_ending_with_a_dot(owner: User, api: APIClient) -> None:
    store_user_key(owner)
    assert {e["action"] for e in events(api, action="key.created")} == {"key.created"}
    assert {e["action"] for e in events(api, action="key.")} == {"key.created"}
    assert events(api, action="key") == []
    assert {e["action"] for e in events(api, action="token.")} == {"token.created"}


def test_target_filters_by_target_id(owner: User, api: APIClient) -> None:
    key = store_user_key(owner)
    assert [e["targetId"] for e in events(api, target=key.key_id)] == [key.key_id]


@pytest.mark.parametrize(
    "since", ["2000-01-01", "2000-01-01T10:00:00Z", "2000-01-01T10:00:00+01:00", "2000-01-01T10:00"]
)
def test_since_takes_an_iso_date_or_time(api: APIClient, since: str) -> None:
    assert events(api, since=since)
    assert events(api, since="2999-01-01") == []


@pytest.mark.parametrize(
    "since",
    ["yesterday", "2026-13-01", "2026-01-01T25:00", "1700000000", "0001-01-01T00:00+01:00", "9999-12-31T23:00-05:00"],
)
def test_a_bad_since_is_a_400_with_a_stable_code(api: APIClient, since: str) -> None:
    response = audit(api, since=since)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_since")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": 0}, "invalid_limit"),
        ({"limit": 201}, "invalid_limit"),
        ({"limit": "ten"}, "invalid_limit"),
        ({"cursor": "abc"}, "invalid_cursor"),
        ({"cursor": "-1"}, "invalid_cursor"),
    ],
)
def test_a_bad_limit_or_cursor_is_a_400_with_a_stable_code(api: APIClient, params: dict[str, Any], code: str) -> None:
    response = audit(api, **params)
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_pages_follow_next_to_the_end_newest_first_without_repeats(owner: User, api: APIClient) -> None:
    for i in range(7):
        audit_record(actor=owner, action="test.event", target_type="thing", target_id=f"t{i}")
    seen: list[int] = []
    cursor = None
    for _ in range(10):
        body = audit(api, limit=3, **({"cursor": cursor} if cursor else {})).json()
        assert len(body["events"]) <= 3
        seen += [e["id"] for e in body["events"]]
        cursor = body["next"]
        if cursor is None:
            break
    everything = [e["id"] for e in events(api, limit=200)]
    assert seen == everything and len(seen) == 8  # 7 + the token the client was made with
    assert seen == sorted(seen, reverse=True)


def test_new_events_do_not_shift_the_next_page(owner: User, api: APIClient) -> None:
    for i in range(4):
        audit_record(actor=owner, action="test.event", target_type="thing", target_id=f"t{i}")
    first = audit(api, limit=2).json()
    audit_record(actor=owner, action="test.event", target_type="thing", target_id="late")
    second = audit(api, limit=2, cursor=first["next"]).json()
    assert [e["targetId"] for e in second["events"]] == ["t1", "t0"]


def test_events_render_as_the_schema_documents(owner: User, api: APIClient, group: Organization) -> None:
    store_group_key(owner, group)
    body = audit(api).json()
    schema = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    assert set(body) == set(schema["AuditEvents"]["properties"])
    assert set(body["events"][0]) == set(schema["AuditEvent"]["properties"])
    assert set(body["events"][0]) == {
        "id",
        "time",
        "actor",
        "action",
        "targetType",
        "targetId",
        "groupId",
        "ip",
        "details",
    }
    event = next(e for e in body["events"] if e["action"] == "key.created")
    assert (event["actor"], event["groupId"], event["targetType"]) == ("olivia", "acme", "provider_key")
    assert AuditEvent.objects.get(pk=event["id"]).action == "key.created"


def test_the_audit_endpoint_honours_enable_byok(api: APIClient, settings: Any) -> None:
    settings.ENABLE_BYOK = False
    response = audit(api)
    assert (response.status_code, response.json()["code"]) == (403, "byok_disabled")


def test_a_cursor_beyond_any_position_is_simply_the_newest_page(api: APIClient) -> None:
    assert len(events(api, cursor="9" * 19)) == AuditEvent.objects.count()
