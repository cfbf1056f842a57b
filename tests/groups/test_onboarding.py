"""Staff onboard people without a shell into the database: ``user_onboard`` creates a user without a
password and a one-time set-password link, from the command line (``byok_create_user``) and the admin.
The links are followed the way a browser does: GET the link, fill in the rendered set-password form."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.urls import reverse

from common.errors import Conflict, Forbidden, InvalidInput
from groups.models import AuditEvent, User
from groups.services import user_onboard
from tests.factories import rendered_form

NEW_PASSWORD = "a-Long-and-Unusual-passphrase-42"


def create_user_command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("byok_create_user", *args, stdout=out, stderr=err)
    return out.getvalue().strip().splitlines()[-1], err.getvalue()


def set_password_through_link(link: str, password: str = NEW_PASSWORD) -> Client:
    """Follow ``link`` as a new browser: the link redirects to the set-password form, which is filled in."""
    browser = Client(enforce_csrf_checks=True)
    first = browser.get(link)
    assert first.status_code == 302, "a valid link redirects to the set-password form"
    form = rendered_form(browser, first["Location"])
    form["new_password1"] = password
    form["new_password2"] = password
    done = form.submit(browser)
    assert done.status_code == 302, done.content.decode()[:2000]
    assert done["Location"] == reverse("password_reset_complete")
    return browser


def signs_in(username: str, password: str = NEW_PASSWORD) -> bool:
    """Sign in at ``/accounts/login/`` (only called where it should succeed: a refusal renders the
    sign-in page, which the web app provides)."""
    browser = Client()
    response = browser.post(reverse("login"), {"username": username, "password": password})
    return response.status_code == 302 and browser.session.get("_auth_user_id") is not None


def link_works(link: str) -> bool:
    response = Client().get(link)
    if response.status_code == 302:
        return True
    assert response.status_code == 200
    return bool(response.context["validlink"])


# ---- The service ------------------------------------------------------------------------------


def test_onboarded_user_is_active_without_a_usable_password_and_audited(superuser: User) -> None:
    user, link = user_onboard(actor=superuser, username="nora", email="nora@example.com")
    assert user.is_active and not user.is_staff
    assert not user.has_usable_password()
    assert authenticate(username="nora", password="") is None
    assert link.startswith("/accounts/reset/") and link.endswith("/")
    event = AuditEvent.objects.get(action="user.created", target_id="nora")
    assert event.actor == superuser
    token = link.rstrip("/").rsplit("/", 1)[-1]
    assert token not in json.dumps(event.details)
    assert event.details == {"staff": False, "email": "nora@example.com"}


def test_onboarding_a_taken_username_is_a_conflict(superuser: User, owner: User) -> None:
    with pytest.raises(Conflict, match=f"A user named '{owner.username}' already exists"):
        user_onboard(actor=superuser, username=owner.username)


@pytest.mark.parametrize("username", ["", "has space", "x" * 151])
def test_onboarding_refuses_an_invalid_username(superuser: User, username: str) -> None:
    with pytest.raises(InvalidInput):
        user_onboard(actor=superuser, username=username)


def test_onboarding_refuses_an_invalid_email(superuser: User) -> None:
    with pytest.raises(InvalidInput, match="not a valid email"):
        user_onboard(actor=superuser, username="nora", email="nora-at-example")


def test_only_staff_allowed_to_add_users_can_onboard(owner: User) -> None:
    owner.is_staff = True
    owner.save()
    with pytest.raises(Forbidden):
        user_onboard(actor=owner, username="nora")
    assert not User.objects.filter(username="nora").exists()


# ---- The command ------------------------------------------------------------------------------


def test_create_user_command_prints_a_one_time_link_that_lets_the_user_sign_in(db: Any) -> None:
    link, err = create_user_command("nora", "--email", "nora@example.com")
    assert link.startswith("http://127.0.0.1:8000/accounts/reset/")
    assert "works once" in err
    assert authenticate(username="nora", password=NEW_PASSWORD) is None
    set_password_through_link(urlsplit(link).path)
    assert signs_in("nora")
    assert not link_works(urlsplit(link).path), "the link is one-time: setting the password spent it"
    user = User.objects.get(username="nora")
    assert user.email == "nora@example.com" and not user.is_staff
    assert AuditEvent.objects.filter(action="user.created", target_id="nora", actor=None).exists()


def test_create_user_command_makes_staff_and_uses_the_base_url_given(db: Any) -> None:
    link, _ = create_user_command("sam", "--staff", "--base-url", "https://byok.example.com/")
    assert link.startswith("https://byok.example.com/accounts/reset/")
    assert User.objects.get(username="sam").is_staff


@override_settings(BYOK_PUBLIC_URL="https://vault.example.org")
def test_create_user_command_defaults_to_the_public_url_setting(db: Any) -> None:
    link, _ = create_user_command("sam")
    assert link.startswith("https://vault.example.org/accounts/reset/")


def test_create_user_command_refuses_a_taken_username_clearly(owner: User) -> None:
    with pytest.raises(CommandError, match=f"A user named '{owner.username}' already exists"):
        create_user_command(owner.username)
    assert User.objects.filter(username=owner.username).count() == 1


# ---- The admin --------------------------------------------------------------------------------


@pytest.fixture
def admin_browser(superuser: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    return client


def test_staff_create_a_user_in_the_admin_and_see_the_link_once(admin_browser: Client, superuser: User) -> None:
    form = rendered_form(admin_browser, reverse("admin:groups_user_add"))
    assert not any(name.startswith("password") or name == "usable_password" for name in form.names())
    form["username"] = "nora"
    form["email"] = "nora@example.com"
    form.check("is_staff")
    page = form.submit(admin_browser, "_save")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    html = page.content.decode()
    link = html.split('id="set-password-link">')[1].split("<")[0]
    assert link.startswith("http://testserver/accounts/reset/")
    user = User.objects.get(username="nora")
    assert user.is_staff and user.email == "nora@example.com" and not user.has_usable_password()
    assert AuditEvent.objects.filter(action="user.created", target_id="nora", actor=superuser).exists()
    # Shown once: not on the user's page, not in a message kept for the next page.
    later = admin_browser.get(reverse("admin:groups_user_change", args=[user.pk])).content.decode()
    assert urlsplit(link).path not in later
    set_password_through_link(urlsplit(link).path)
    assert signs_in("nora")
    assert not link_works(urlsplit(link).path)


def test_the_admin_refuses_a_taken_username_with_a_form_error(admin_browser: Client, owner: User) -> None:
    form = rendered_form(admin_browser, reverse("admin:groups_user_add"))
    form["username"] = owner.username
    page = form.submit(admin_browser, "_save")
    assert page.status_code == 200
    assert "A user with that username already exists." in page.content.decode()
    assert User.objects.filter(username=owner.username).count() == 1
    assert not AuditEvent.objects.filter(action="user.created").exists()


def test_team_administrators_cannot_create_users(owner: User, group: Any) -> None:
    owner.is_staff = True
    owner.save()
    client = Client()
    client.force_login(owner)
    assert client.get(reverse("admin:groups_user_add")).status_code == 403
