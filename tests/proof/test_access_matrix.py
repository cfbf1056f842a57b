"""Who may do what: every persona, every API operation, own / other's resources, each cell's
expected status stated once in ``MATRIX`` and asserted by one parametrised test.

Statuses follow the README: another user's or another group's object is a 404 (its existence is not
revealed), a role too low is a 403, no / revoked / expired token is a 401, the public provider list
answers everyone. A refusal changes nothing (every row a refusal could touch is compared before and
after). ``test_every_api_operation_has_rows`` fails when an endpoint is added without rows here.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import responses
from django.test import Client
from django.urls import URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator

from byok_keys.models import ApiToken, ProviderKey
from gateway.models import UsageTotal
from groups.models import Membership, Organization, User
from tests.factories import OPENAI_CHAT_URL
from tests.proof.conftest import ACME_KEY, GLOBEX_KEY, OWN_KEY, PERSONA_USERS, World

PERSONAS = tuple(PERSONA_USERS)  # the columns of MATRIX, in this order
NEW_KEY = "sk-proj-" + "MatrixNewKey" * 4 + "T3BlbkFJ" + "BrandNewKey0" * 2
CHAT = {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
INFER = {"provider": "openai", "model": "gpt-4o-mini", "prompt": "hi"}


@dataclass(frozen=True)
class Case:
    """One request. ``path`` may name ``{me}`` (the persona's username), ``{my_token}`` (the tokenId the
    persona authenticates with) and ``{gina_token}`` (a token of a user who is no persona)."""

    method: str
    template: str  # the operation's path in the OpenAPI schema
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "providers": Case("GET", "/api/byok/providers", "/api/byok/providers"),
    "keys overview": Case("GET", "/api/byok/keys", "/api/byok/keys"),
    "store own key": Case("POST", "/api/byok/keys/{provider}", "/api/byok/keys/openai", {"apiKey": NEW_KEY}),
    "rename own key": Case("PATCH", "/api/byok/keys/{provider}", "/api/byok/keys/openai", {"name": "Renamed"}),
    "delete own key": Case("DELETE", "/api/byok/keys/{provider}", "/api/byok/keys/openai"),
    "test own stored key": Case("POST", "/api/byok/keys/{provider}/test", "/api/byok/keys/openai/test", {}),
    "test a key in the body": Case(
        "POST", "/api/byok/keys/{provider}/test", "/api/byok/keys/openai/test", {"apiKey": NEW_KEY}
    ),
    "list tokens": Case("GET", "/api/byok/tokens", "/api/byok/tokens"),
    "create token": Case("POST", "/api/byok/tokens", "/api/byok/tokens", {"name": "laptop"}),
    "revoke own token": Case("DELETE", "/api/byok/tokens/{token_id}", "/api/byok/tokens/{my_token}"),
    "revoke another user's token": Case("DELETE", "/api/byok/tokens/{token_id}", "/api/byok/tokens/{gina_token}"),
    "list groups": Case("GET", "/api/byok/groups", "/api/byok/groups"),
    "create group": Case("POST", "/api/byok/groups", "/api/byok/groups", {"id": "newgroup", "name": "New"}),
    "acme detail": Case("GET", "/api/byok/groups/{group_id}", "/api/byok/groups/acme"),
    "globex detail": Case("GET", "/api/byok/groups/{group_id}", "/api/byok/groups/globex"),
    "join acme": Case("POST", "/api/byok/groups/{group_id}/join", "/api/byok/groups/acme/join"),
    "join globex": Case("POST", "/api/byok/groups/{group_id}/join", "/api/byok/groups/globex/join"),
    "store acme key": Case(
        "POST", "/api/byok/groups/{group_id}/keys/{provider}", "/api/byok/groups/acme/keys/openai", {"apiKey": NEW_KEY}
    ),
    "store globex key": Case(
        "POST",
        "/api/byok/groups/{group_id}/keys/{provider}",
        "/api/byok/groups/globex/keys/openai",
        {"apiKey": NEW_KEY},
    ),
    "edit acme key": Case(
        "PATCH",
        "/api/byok/groups/{group_id}/keys/{provider}",
        "/api/byok/groups/acme/keys/openai",
        {"name": "Renamed", "allowedUsers": "all"},
    ),
    "edit globex key": Case(
        "PATCH",
        "/api/byok/groups/{group_id}/keys/{provider}",
        "/api/byok/groups/globex/keys/openai",
        {"name": "Renamed"},
    ),
    "delete acme key": Case(
        "DELETE", "/api/byok/groups/{group_id}/keys/{provider}", "/api/byok/groups/acme/keys/openai"
    ),
    "delete globex key": Case(
        "DELETE", "/api/byok/groups/{group_id}/keys/{provider}", "/api/byok/groups/globex/keys/openai"
    ),
    "test acme key": Case(
        "POST", "/api/byok/groups/{group_id}/keys/{provider}/test", "/api/byok/groups/acme/keys/openai/test", {}
    ),
    "test globex key": Case(
        "POST", "/api/byok/groups/{group_id}/keys/{provider}/test", "/api/byok/groups/globex/keys/openai/test", {}
    ),
    "acme usage": Case("GET", "/api/byok/groups/{group_id}/usage", "/api/byok/groups/acme/usage"),
    "globex usage": Case("GET", "/api/byok/groups/{group_id}/usage", "/api/byok/groups/globex/usage"),
    "add oscar to acme": Case(
        "POST", "/api/byok/groups/{group_id}/users/{user_id}", "/api/byok/groups/acme/users/oscar", {}
    ),
    "make mia an acme owner": Case(
        "POST", "/api/byok/groups/{group_id}/users/{user_id}", "/api/byok/groups/acme/users/mia", {"role": "owner"}
    ),
    "demote acme's last owner": Case(
        "POST", "/api/byok/groups/{group_id}/users/{user_id}", "/api/byok/groups/acme/users/olivia", {"role": "member"}
    ),
    "add oscar to globex": Case(
        "POST", "/api/byok/groups/{group_id}/users/{user_id}", "/api/byok/groups/globex/users/oscar", {}
    ),
    "remove mia from acme": Case(
        "DELETE", "/api/byok/groups/{group_id}/users/{user_id}", "/api/byok/groups/acme/users/mia"
    ),
    "leave acme": Case("DELETE", "/api/byok/groups/{group_id}/users/{user_id}", "/api/byok/groups/acme/users/{me}"),
    "remove globex's owner": Case(
        "DELETE", "/api/byok/groups/{group_id}/users/{user_id}", "/api/byok/groups/globex/users/gina"
    ),
    "report own key compromised": Case(
        "POST", "/api/byok/keys/{provider}/compromised", "/api/byok/keys/openai/compromised", {}
    ),
    "report acme key compromised": Case(
        "POST",
        "/api/byok/groups/{group_id}/keys/{provider}/compromised",
        "/api/byok/groups/acme/keys/openai/compromised",
        {},
    ),
    "report globex key compromised": Case(
        "POST",
        "/api/byok/groups/{group_id}/keys/{provider}/compromised",
        "/api/byok/groups/globex/keys/openai/compromised",
        {},
    ),
    "own audit": Case("GET", "/api/byok/audit", "/api/byok/audit"),
    "acme audit": Case("GET", "/api/byok/audit", "/api/byok/audit?group=acme"),
    "globex audit": Case("GET", "/api/byok/audit", "/api/byok/audit?group=globex"),
    "stats": Case("GET", "/api/byok/stats", "/api/byok/stats"),
    "resolve": Case("GET", "/api/byok/resolve", "/api/byok/resolve?provider=openai"),
    "resolve in acme": Case("GET", "/api/byok/resolve", "/api/byok/resolve?provider=openai&group=acme"),
    "inference": Case("POST", "/api/inference", "/api/inference", INFER),
    "inference in acme": Case("POST", "/api/inference", "/api/inference", {**INFER, "group": "acme"}),
    "inference in globex": Case("POST", "/api/inference", "/api/inference", {**INFER, "group": "globex"}),
    "chat completion": Case("POST", "/v1/chat/completions", "/v1/chat/completions", CHAT),
    "chat completion in acme": Case(
        "POST", "/v1/chat/completions", "/v1/chat/completions", CHAT, headers={"X-BYOK-Group": "acme"}
    ),
    "chat completion in globex": Case(
        "POST", "/v1/chat/completions", "/v1/chat/completions", CHAT, headers={"X-BYOK-Group": "globex"}
    ),
    "models": Case("GET", "/v1/models", "/v1/models"),
}

Cell = int | tuple[int, str]  # a status, or a status and the error's stable code


def row(
    owner: Cell,
    admin: Cell,
    member: Cell,
    member_not_allowed: Cell,
    invitee: Cell,
    outsider: Cell,
    staff: Cell,
    staff_without_permission: Cell,
    anonymous: Cell = (401, "not_authenticated"),
    revoked_token: Cell = (401, "invalid_token"),
    expired_token: Cell = (401, "invalid_token"),
) -> tuple[Cell, ...]:
    return (
        owner,
        admin,
        member,
        member_not_allowed,
        invitee,
        outsider,
        staff,
        staff_without_permission,
        anonymous,
        revoked_token,
        expired_token,
    )


NO_GROUP = (404, "group_not_found")
ROLE = (403, "insufficient_role")
NO_KEY = (400, "no_key_for_provider")
LAST_OWNER = (409, "last_owner")
ALL_USERS_200 = row(200, 200, 200, 200, 200, 200, 200, 200)

# fmt: off
MATRIX: dict[str, tuple[Cell, ...]] = {
    #                              owner  admin  member n.allow invitee outsider staff  staff w/o perm
    "providers":              row(200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "keys overview":          ALL_USERS_200,
    # Your own key: only olivia has one; the others' requests never reach hers (checked: nothing changes).
    "store own key":          row(200, 201, 201, 201, 201, 201, 201, 201),
    "rename own key":         row(200, 404, 404, 404, 404, 404, 404, 404),
    "delete own key":         row(200, 404, 404, 404, 404, 404, 404, 404),
    "test own stored key":    row(200, 404, 404, 404, 404, 404, 404, 404),
    "test a key in the body": ALL_USERS_200,
    "list tokens":            ALL_USERS_200,
    "create token":           row(201, 201, 201, 201, 201, 201, 201, 201),
    "revoke own token":       ALL_USERS_200,
    "revoke another user's token": row(404, 404, 404, 404, 404, 404, 404, 404),
    "list groups":            ALL_USERS_200,
    "create group":           row(201, 201, 201, 201, 201, 201, 201, 201),
    # A group you are not an accepted member of is a 404; platform staff see every group.
    "acme detail":            row(200, 200, 200, 200, NO_GROUP, NO_GROUP, 200, NO_GROUP),
    "globex detail":          row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200, 200),
    "join acme":              row(200, 200, 200, 200, 200, NO_GROUP, NO_GROUP, NO_GROUP),
    "join globex":            row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200),
    # Group keys: owners and admins (and platform staff) manage them; members may not.
    "store acme key":         row(200, 200, ROLE, ROLE, NO_GROUP, NO_GROUP, 200, NO_GROUP),
    "store globex key":       row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200, 200),
    "edit acme key":          row(200, 200, ROLE, ROLE, NO_GROUP, NO_GROUP, 200, NO_GROUP),
    "edit globex key":        row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200, 200),
    "delete acme key":        row(200, 200, ROLE, ROLE, NO_GROUP, NO_GROUP, 200, NO_GROUP),
    "delete globex key":      row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200, 200),
    "test acme key":          row(200, 200, ROLE, ROLE, NO_GROUP, NO_GROUP, 200, NO_GROUP),
    "test globex key":        row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200, 200),
    "acme usage":             row(200, 200, ROLE, ROLE, NO_GROUP, NO_GROUP, 200, NO_GROUP),
    "globex usage":           row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200, 200),
    # Members: owners and admins add and remove; only owners touch owners; never the last owner.
    "add oscar to acme":      row(201, 201, ROLE, ROLE, NO_GROUP, NO_GROUP, 201, NO_GROUP),
    "make mia an acme owner": row(200, ROLE, ROLE, ROLE, NO_GROUP, NO_GROUP, 200, NO_GROUP),
    "demote acme's last owner": row(LAST_OWNER, ROLE, ROLE, ROLE, NO_GROUP, NO_GROUP, LAST_OWNER, NO_GROUP),
    "add oscar to globex":    row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 201, 201),
    # mia removing herself is leaving; nadia (a member) may not remove her.
    "remove mia from acme":   row(200, 200, 200, ROLE, NO_GROUP, NO_GROUP, 200, NO_GROUP),
    # Leaving (an invitee declines); the last owner cannot; not being in the group is a 404.
    "leave acme":             row(LAST_OWNER, 200, 200, 200, 200, NO_GROUP, NO_GROUP, NO_GROUP),
    "remove globex's owner":  row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, LAST_OWNER, ROLE),
    # A compromised key: your own (only olivia has one), a group's for its owners/admins and staff.
    "report own key compromised": row(200, 404, 404, 404, 404, 404, 404, 404),
    "report acme key compromised": row(200, 200, ROLE, ROLE, NO_GROUP, NO_GROUP, 200, NO_GROUP),
    "report globex key compromised": row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200, 200),
    # The audit log: your own events; a group's for its owners/admins (and platform staff).
    "own audit":              ALL_USERS_200,
    "acme audit":             row(200, 200, ROLE, ROLE, NO_GROUP, NO_GROUP, 200, NO_GROUP),
    "globex audit":           row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200, 200),
    "stats":                  ALL_USERS_200,
    # Resolution: own key, then an allowed group key. nadia is not in acme key's allowedUsers, an
    # invitation gives nothing, and platform staff use a group's keys only as members.
    "resolve":                row(200, 200, 200, NO_KEY, NO_KEY, NO_KEY, NO_KEY, 200),
    "resolve in acme":        row(200, 200, 200, NO_KEY, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP),
    "inference":              row(200, 200, 200, NO_KEY, NO_KEY, NO_KEY, NO_KEY, 200),
    "inference in acme":      row(200, 200, 200, NO_KEY, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP),
    "inference in globex":    row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200),
    "chat completion":        row(200, 200, 200, NO_KEY, NO_KEY, NO_KEY, NO_KEY, 200),
    "chat completion in acme": row(200, 200, 200, NO_KEY, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP),
    "chat completion in globex": row(NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, NO_GROUP, 200),
    "models":                 ALL_USERS_200,
}
# fmt: on

# Which key serves each persona that may call the provider (own first, then an allowed group key).
SERVED_BY = {"owner": OWN_KEY, "admin": ACME_KEY, "member": ACME_KEY, "staff_without_permission": GLOBEX_KEY}
GATEWAY_PATHS = ("/api/inference", "/v1/chat/completions")


@functools.cache
def documented_statuses() -> dict[tuple[str, str], frozenset[int]]:
    """(method, path) -> the statuses the OpenAPI schema documents for that operation."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {
        (method.upper(), path): frozenset(int(status) for status in operation["responses"])
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    }


def schema_operations() -> set[tuple[str, str]]:
    return set(documented_statuses())


def snapshot() -> dict[str, Any]:
    """Every row a request in the matrix could change (the audit log and usage ledger aside: a
    refused call may rightly record an attempt)."""
    return {
        "users": sorted(User.objects.values_list("username", "is_active", "default_group_id")),
        "groups": sorted(Organization.objects.values_list("slug", "name")),
        "members": sorted(
            (m.organization.slug, m.user.username, m.role, m.accepted_at is not None)
            for m in Membership.objects.select_related("organization", "user")
        ),
        "keys": sorted(
            ProviderKey.objects.values_list(
                "key_id",
                "user_id",
                "organization_id",
                "name",
                "description",
                "status",
                "sealed_secret",
                "allow_all_members",
                "usage_count",
                "last_validated_at",
            )
        ),
        "allowed": sorted(ProviderKey.allowed_users.through.objects.values_list("providerkey_id", "user_id")),
        "tokens": sorted(ApiToken.objects.values_list("lookup_id", "name", "revoked_at", "expires_at")),
        "usage_totals": sorted(UsageTotal.objects.values_list("user_id", "organization_id", "provider", "calls")),
    }


def request_path(world: World, persona: str, case: Case) -> str:
    username = PERSONA_USERS[persona] or "olivia"
    token_owner = "olivia" if PERSONA_USERS[persona] is None else username
    return case.path.format(
        me=username,
        my_token=world.token_ids[token_owner],
        gina_token=world.token_ids["gina"],
        provider="openai",
    )


CELLS = [
    pytest.param(label, persona, MATRIX[label][column], id=f"{label} | {persona}")
    for label in CASES
    for column, persona in enumerate(PERSONAS)
]


def test_every_api_operation_has_rows() -> None:
    """A new endpoint fails here until the matrix says who may call it."""
    covered = {(case.method, case.template) for case in CASES.values()}
    assert covered == schema_operations()
    assert set(MATRIX) == set(CASES)
    assert all(len(cells) == len(PERSONAS) for cells in MATRIX.values())


@pytest.mark.parametrize(("label", "persona", "expected"), CELLS)
def test_access(label: str, persona: str, expected: Cell, world: World, provider_mock: responses.RequestsMock) -> None:
    case = CASES[label]
    status, code = expected if isinstance(expected, tuple) else (expected, None)
    # Chat answers for the calls that are allowed; key checks find no provider (stored "unverified").
    provider_mock.assert_all_requests_are_fired = False
    provider_mock.add(
        responses.POST,
        OPENAI_CHAT_URL,
        json={
            "id": "chatcmpl-m",
            "object": "chat.completion",
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        },
    )
    client = world.client(persona)
    before = snapshot()
    extra = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in case.headers.items()}
    response = getattr(client, case.method.lower())(
        request_path(world, persona, case), case.body, format="json", **extra
    )
    assert response.status_code == status, response.content
    assert status in documented_statuses()[(case.method, case.template)], "the schema does not document this status"
    body = response.json()
    if status >= 400:
        error = body["error"] if case.template.startswith("/v1/") else body
        error_code = error["code"]
        if code is not None:
            assert error_code == code, body
        assert snapshot() == before, "a refused request changed something"
        assert not [c for c in provider_mock.calls if c.request.method == "POST"], "a refused call reached a provider"
    if case.template in GATEWAY_PATHS and status == 200:
        sent = [c.request for c in provider_mock.calls if c.request.url == OPENAI_CHAT_URL]
        assert [r.headers["Authorization"] for r in sent] == [f"Bearer {SERVED_BY[persona]}"]


# ---- Pages (session sign-in): the page, the admin, the API's schema and docs ------------------------

PAGE_PERSONAS = ("anonymous", "owner", "member", "outsider", "staff", "staff_without_permission")
# fmt: off
PAGES: dict[str, tuple[int, ...]] = {
    #                                                     anon owner member outsider staff  staff w/o perm
    "/":                                                 (302, 302, 302, 302, 302, 302),
    "/byok-interface.html":                              (302, 200, 200, 200, 200, 200),
    "/accounts/login/":                                  (200, 200, 200, 200, 200, 200),
    "/api/schema/":                                      (200, 200, 200, 200, 200, 200),
    # Health for load balancers; metrics for this machine's scraper (BYOK_METRICS_ALLOWED_IPS: the
    # test client is 127.0.0.1) or a BYOK_METRICS_TOKEN.
    "/healthz":                                          (200, 200, 200, 200, 200, 200),
    "/readyz":                                           (200, 200, 200, 200, 200, 200),
    "/metrics":                                          (200, 200, 200, 200, 200, 200),
    "/api/docs/":                                        (200, 200, 200, 200, 200, 200),
    # The admin: staff only. Platform staff need the admin's model permissions as well (stella has
    # none: 403); a team administrator (tess, admin of globex) sees globex and its rows, nothing else
    # (another group's or a user's row redirects to the index as "does not exist").
    "/admin/":                                           (302, 302, 302, 302, 200, 200),
    "/admin/groups/organization/":                       (302, 302, 302, 302, 403, 200),
    "/admin/groups/organization/{acme}/change/":         (302, 302, 302, 302, 403, 302),
    "/admin/groups/organization/{globex}/change/":       (302, 302, 302, 302, 403, 200),
    "/admin/byok_keys/providerkey/":                     (302, 302, 302, 302, 403, 200),
    "/admin/byok_keys/providerkey/{own_key}/change/":    (302, 302, 302, 302, 403, 302),
    "/admin/byok_keys/providerkey/{acme_key}/change/":   (302, 302, 302, 302, 403, 302),
    "/admin/byok_keys/providerkey/{globex_key}/change/": (302, 302, 302, 302, 403, 200),
    "/admin/byok_keys/apitoken/":                        (302, 302, 302, 302, 403, 403),
    "/admin/groups/user/":                               (302, 302, 302, 302, 403, 403),
    "/admin/groups/auditevent/":                         (302, 302, 302, 302, 403, 200),
    "/admin/gateway/usagerecord/":                       (302, 302, 302, 302, 403, 200),
}
# fmt: on
PAGE_USERS = {"anonymous": None, "owner": "olivia", "member": "mia", "outsider": "oscar", "staff": "stella"}
PAGE_USERS["staff_without_permission"] = "tess"

PAGE_CELLS = [
    pytest.param(url, persona, PAGES[url][column], id=f"{url} | {persona}")
    for url in PAGES
    for column, persona in enumerate(PAGE_PERSONAS)
]


def _routes(patterns: list[Any], prefix: str = "") -> list[str]:
    routes: list[str] = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern.url_patterns, route)
        else:
            routes.append("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))
    return routes


def test_every_url_pattern_is_in_a_table() -> None:
    """Every route under /api/ or /v1/ is an operation of the schema (so it has rows in MATRIX), or a
    page in PAGES; every other route is in PAGES or under a prefix PAGES covers (the admin's, the
    sign-in pages')."""
    page_paths = {re.sub(r"\{\w+\}", "x", url) for url in PAGES}
    operations = {path for _, path in schema_operations()}
    for route in _routes(get_resolver().url_patterns):
        if route in operations or re.sub(r"\{\w+\}", "x", route) in page_paths:
            continue
        assert route.startswith(("/admin/", "/accounts/")), f"{route} is in no table of this module"


@pytest.mark.parametrize(("url", "persona", "expected"), PAGE_CELLS)
def test_page_access(url: str, persona: str, expected: int, world: World) -> None:
    client = Client()
    username = PAGE_USERS[persona]
    if username is not None:
        client.force_login(world.users[username])
    path = url.format(
        acme=world.groups["acme"].pk,
        globex=world.groups["globex"].pk,
        own_key=world.keys["own"].pk,
        acme_key=world.keys["acme"].pk,
        globex_key=world.keys["globex"].pk,
    )
    response = client.get(path)
    assert response.status_code == expected
    if expected == 302 and persona == "anonymous":
        assert "/login/" in response["Location"]
