"""Failed sign-ins and unknown API tokens are throttled per account and per IP address (429)."""

from __future__ import annotations

from typing import Any

from django.test import Client
from rest_framework.test import APIClient

from groups.models import User
from tests.factories import make_client


def test_thirty_wrong_admin_passwords_then_the_right_one_is_a_429(client: Client, superuser: User) -> None:
    statuses = [
        client.post("/admin/login/", {"username": superuser.username, "password": f"wrong-{i}"}).status_code
        for i in range(30)
    ]
    assert statuses[:10] == [200] * 10  # the form again, with its error
    assert set(statuses[10:]) == {429}
    right = client.post("/admin/login/", {"username": superuser.username, "password": "pw-root"})
    assert right.status_code == 429
    assert int(right["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session


def test_the_account_limit_holds_from_every_address_and_a_success_clears_it(client: Client, member: User) -> None:
    for i in range(9):
        client.post("/accounts/login/", {"username": member.username, "password": "nope"}, REMOTE_ADDR=f"10.0.0.{i}")
    ok = client.post("/accounts/login/", {"username": member.username, "password": "pw-" + member.username})
    assert ok.status_code == 302  # 9 failures: under the limit; this success resets the count
    client.post("/accounts/logout/")
    for i in range(9):
        client.post("/accounts/login/", {"username": member.username, "password": "nope"}, REMOTE_ADDR=f"10.1.0.{i}")
    assert (
        client.post("/accounts/login/", {"username": member.username, "password": "pw-" + member.username}).status_code
        == 302
    )


def test_a_hundred_unknown_tokens_from_one_address_get_429s(db: Any, owner: User) -> None:
    bad = APIClient()
    statuses = []
    for i in range(100):
        bad.credentials(HTTP_AUTHORIZATION=f"Bearer byokt_{'a' * 12}.{'x' * 42}{i % 10}")
        statuses.append(bad.get("/api/byok/keys").status_code)
    assert statuses[:50] == [401] * 50
    assert set(statuses[50:]) == {429}
    throttled = bad.get("/api/byok/keys")
    assert throttled.json()["code"] == "rate_limited" and "Retry-After" in throttled
    # A valid token still works, from that address too.
    good = make_client(owner)
    assert good.get("/api/byok/keys").status_code == 200
