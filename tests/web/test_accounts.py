"""Sign-in for every active user, the page's entry points and headers (Django test client)."""

from __future__ import annotations

import re
from typing import Any

from django.core import mail
from django.test import Client

from groups.models import User


def test_root_sends_a_signed_in_person_to_the_page_and_others_to_sign_in(client: Client, member: User) -> None:
    assert client.get("/")["Location"] == "/accounts/login/?next=/byok-interface.html"
    assert client.get("/byok-interface.html")["Location"].startswith("/accounts/login/")
    client.force_login(member)
    assert client.get("/")["Location"] == "/byok-interface.html"
    assert client.get("/byok-interface.html").status_code == 200


def test_every_active_user_signs_in_not_only_staff(client: Client, member: User) -> None:
    assert not member.is_staff
    response = client.post("/accounts/login/", {"username": member.username, "password": "pw-" + member.username})
    assert response.status_code == 302 and response["Location"] == "/byok-interface.html"
    page = client.get("/byok-interface.html")
    assert page.status_code == 200 and member.username in page.content.decode()


def test_a_wrong_password_or_an_inactive_user_is_refused(client: Client, member: User) -> None:
    assert client.post("/accounts/login/", {"username": member.username, "password": "nope"}).status_code == 200
    member.is_active = False
    member.save()
    response = client.post("/accounts/login/", {"username": member.username, "password": "pw-" + member.username})
    assert response.status_code == 200  # the form again, with its error
    assert client.get("/byok-interface.html").status_code == 302


def test_sign_out_is_a_post_and_ends_the_session(client: Client, member: User) -> None:
    client.force_login(member)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert client.get("/byok-interface.html").status_code == 302


def test_password_change_and_reset_by_email(client: Client, member: User) -> None:
    member.email = "mia@example.com"
    member.save()
    client.force_login(member)
    response = client.post(
        "/accounts/password_change/",
        {"old_password": "pw-" + member.username, "new_password1": "a-New-pass-9x", "new_password2": "a-New-pass-9x"},
    )
    assert response.status_code == 302
    client.post("/accounts/logout/")

    assert client.post("/accounts/password_reset/", {"email": "mia@example.com"}).status_code == 302
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/reset/\S+/)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    form = client.get(link.group(1), follow=True)
    assert form.status_code == 200 and b"Set your password" in form.content
    done = client.post(
        form.redirect_chain[-1][0], {"new_password1": "b-Other-pass-7y", "new_password2": "b-Other-pass-7y"}
    )
    assert done.status_code == 302
    assert client.login(username=member.username, password="b-Other-pass-7y")


def test_the_page_sends_a_csp_without_inline_scripts(client: Client, member: User) -> None:
    client.force_login(member)
    response = client.get("/byok-interface.html")
    policy = response["Content-Security-Policy"]
    script_src = next(part for part in policy.split(";") if part.strip().startswith("script-src"))
    assert "'self'" in script_src and "unsafe-inline" not in script_src and "unsafe-eval" not in script_src
    assert "frame-ancestors 'none'" in policy
    html = response.content.decode()
    assert "<script>" not in html and "<script " in html  # scripts only from files
    assert response["Cache-Control"].startswith("max-age=0") or "no-cache" in response["Cache-Control"]


def test_the_sign_in_page_is_styled_like_the_page(client: Client, db: Any) -> None:
    html = client.get("/accounts/login/").content.decode()
    assert "web/page.css" in html and 'for="id_username"' in html
