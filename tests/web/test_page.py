"""The key management page in a real browser: every capability a person uses, end to end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from byok_keys.models import ProviderKey
from groups.models import User
from tests.factories import OPENAI_KEY
from tests.fake_provider import FakeProvider
from tests.web.conftest import Session, screenshot

pytestmark = [pytest.mark.real_http, pytest.mark.django_db(transaction=True)]

SignIn = Callable[..., Session]


def add_key(session: Session, provider: str, secret: str, name: str = "") -> None:
    page = session.page
    page.get_by_label("Provider", exact=True).first.select_option(provider)
    page.locator("#key-field-apiKey").fill(secret)
    if name:
        page.locator("#key-name").fill(name)
    page.locator("#key-save").click()


def test_a_person_adds_tests_renames_and_removes_a_key(sign_in: SignIn, owner: User, fake: FakeProvider) -> None:
    session = sign_in(owner)
    page = session.page
    page.locator("#key-provider").select_option("openai")
    expect(page.locator("#key-hint")).to_contain_text("sk-")
    page.locator("#key-field-apiKey").fill("sk-proj-short")
    expect(page.locator("#key-format")).to_contain_text("does not look right")
    page.locator("#key-field-apiKey").fill(OPENAI_KEY)
    expect(page.locator("#key-format")).to_have_text("The format looks right.")
    page.locator("#key-test").click()
    expect(page.locator("#key-outcome")).to_contain_text("Test: Valid")
    assert not ProviderKey.objects.exists()  # testing stores nothing
    page.locator("#key-name").fill("Work")
    page.locator("#key-save").click()
    expect(page.locator("#key-outcome")).to_contain_text("Saved (…" + OPENAI_KEY[-4:] + "). Valid")
    row = page.locator("#keys-table tbody tr[data-provider=openai]")
    expect(row).to_contain_text("Work")
    expect(row).to_contain_text("…" + OPENAI_KEY[-4:])
    expect(row.locator(".badge")).to_have_text("valid")
    assert page.locator("#key-field-apiKey").input_value() == ""

    row.get_by_role("button", name="Test openai key").click()
    expect(session.page.locator("#page-status")).to_contain_text("Tested the openai key: valid")

    row.get_by_role("button", name="Rename or describe openai key").click()
    row.get_by_label("Name", exact=True).fill("Personal")
    row.get_by_role("button", name="Save").click()
    expect(page.locator("#keys-table tbody tr[data-provider=openai]")).to_contain_text("Personal")
    assert ProviderKey.objects.get(user=owner).name == "Personal"

    page.locator("#keys-table tbody tr[data-provider=openai]").get_by_role("button", name="Remove openai key").click()
    expect(page.locator("#keys-empty")).to_be_visible()
    assert not ProviderKey.objects.filter(user=owner).exists()
    assert OPENAI_KEY not in session.seen()
    assert session.errors == []


def test_an_invalid_key_shows_the_providers_reason_and_stores_nothing(
    sign_in: SignIn, owner: User, fake: FakeProvider
) -> None:
    fake.rejected.add(OPENAI_KEY)
    session = sign_in(owner)
    session.page.locator("#key-provider").select_option("openai")
    session.page.locator("#key-field-apiKey").fill(OPENAI_KEY)
    session.page.locator("#key-save").click()
    expect(session.page.locator("#key-error")).to_contain_text("Incorrect API key provided")
    assert not ProviderKey.objects.exists()
    assert OPENAI_KEY not in session.seen()


def test_the_dashboard_has_screenshots_at_desktop_and_phone_width(
    sign_in: SignIn, owner: User, fake: FakeProvider
) -> None:
    from tests.factories import store_user_key

    store_user_key(owner)
    for name, viewport in (
        ("dashboard-desktop", {"width": 1280, "height": 900}),
        ("dashboard-phone", {"width": 390, "height": 844}),
    ):
        session = sign_in(owner, viewport=viewport)
        expect(session.page.locator("#keys-table tbody tr")).to_have_count(1)
        expect(session.page.locator("#providers-grid li[data-provider=openai] .serving")).to_have_text("user key")
        screenshot(session, name)
        assert session.errors == []


AZURE_SECRET = "c0ffee" * 6  # 36 characters, a well-formed Azure key


def test_a_config_provider_is_added_through_its_own_fields(sign_in: SignIn, owner: User, fake: FakeProvider) -> None:
    session = sign_in(owner)
    page = session.page
    page.locator("#key-provider").select_option("azure")
    # One input per field; the secret is a password input; never a JSON text box.
    assert page.locator("#key-field-api_key").get_attribute("type") == "password"
    assert page.locator("#key-field-endpoint_url").get_attribute("type") == "url"
    assert page.locator("#key-fields textarea").count() == 0
    page.get_by_label("Endpoint URL").fill(fake.url)
    page.locator("#key-field-api_key").fill(AZURE_SECRET)
    page.locator("#key-field-deployment_id").fill("gpt-4o-mini")
    page.locator("#key-field-api_version").fill("2024-10-21")
    expect(page.locator("#key-format")).to_have_text("The format looks right.")
    page.locator("#key-save").click()
    expect(page.locator("#key-outcome")).to_contain_text("Saved (…" + AZURE_SECRET[-4:] + "). Valid")
    expect(page.locator("#keys-table tbody tr[data-provider=azure] .badge")).to_have_text("valid")
    key = ProviderKey.objects.get(user=owner, provider="azure")
    assert key.status == "valid"
    assert {"path": "/openai/models?api-version=2024-10-21", "secret": AZURE_SECRET} in fake.gets
    assert AZURE_SECRET not in session.seen()
    assert session.errors == []


def test_a_group_admin_invites_a_member_who_accepts_and_gets_a_chosen_group_key(
    sign_in: SignIn, owner: User, member: User, make_user: Callable[..., User], fake: FakeProvider
) -> None:
    """``owner`` owns group acme (``member`` has joined it); they invite ``nina``, who accepts on her page;
    the owner adds a group key for nina only: nina sees it as usable, the other member does not."""
    nina = make_user("nina")
    admin = sign_in(owner)
    page = admin.page
    panel = page.locator("#group-acme")
    panel.get_by_label("Invite user").fill("nina")
    panel.get_by_role("button", name="Invite").click()
    expect(panel.locator("tr[data-user=nina]")).to_contain_text("invited")

    invitee = sign_in(nina)
    invitee.page.get_by_role("button", name="Accept the invitation to acme").click()
    expect(invitee.page.locator("#groups-list li[data-group=acme]")).not_to_contain_text("invited")

    page.reload()
    panel = page.locator("#group-acme")
    expect(panel.locator("tr[data-user=nina]")).to_contain_text("active")
    panel.locator("#gk-acme-provider").select_option("openai")
    panel.locator("#gk-acme-field-apiKey").fill(OPENAI_KEY)
    panel.get_by_role("checkbox", name="All members").uncheck()
    panel.get_by_role("checkbox", name="nina", exact=True).check()
    panel.locator("#gk-acme-save").click()
    expect(panel.locator("#gk-acme-outcome")).to_contain_text("Saved")
    expect(page.locator("#group-acme table.group-keys tr[data-provider=openai]")).to_contain_text("nina")

    invitee.page.reload()
    expect(invitee.page.locator("#group-keys-table tr[data-group=acme][data-provider=openai]")).to_contain_text("yes")
    other = sign_in(member)
    expect(other.page.locator("#group-keys-table tr[data-group=acme][data-provider=openai]")).to_contain_text("no")
    for session in (admin, invitee, other):
        assert OPENAI_KEY not in session.seen()
        assert session.errors == []


def test_a_person_creates_copies_and_revokes_a_token_and_tries_a_call(
    sign_in: SignIn, owner: User, fake: FakeProvider
) -> None:
    from tests.factories import store_user_key

    store_user_key(owner)
    session = sign_in(owner)
    page = session.page
    session.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator("#token-name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#token-created")).to_be_visible()
    token = page.locator("#token-value").inner_text()
    assert token.startswith("byokt_")
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#token-copied")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    # The page works with the session: no token in storage, in a URL, or in a request header it sends.
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    assert not [url for url in session.urls if "byokt_" in url]
    row = page.locator("#tokens-table tr", has_text="laptop")
    row.get_by_role("button", name="Revoke token laptop").click()
    expect(page.locator("#tokens-table tr", has_text="laptop")).to_contain_text("revoked")

    page.locator("#try-provider").select_option("openai")
    page.locator("#try-message").fill("ping")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#try-answer")).to_contain_text("ping")
    key = ProviderKey.objects.get(user=owner)
    expect(page.locator("#try-key")).to_have_text(key.key_id)
    expect(page.locator("#try-source")).to_have_text("user")
    assert fake.requests[-1]["authorization"] == f"Bearer {OPENAI_KEY}"  # served by the user's own key
    assert OPENAI_KEY not in session.seen()
    assert session.errors == []


def test_the_page_has_no_serious_accessibility_violations(sign_in: SignIn, owner: User, fake: FakeProvider) -> None:
    from axe_playwright_python.sync_playwright import Axe

    from tests.factories import store_user_key

    store_user_key(owner)
    session = sign_in(owner)
    expect(session.page.locator("#keys-table tbody tr")).to_have_count(1)
    results = Axe().run(session.page)
    serious = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in serious]


def test_the_admin_renames_a_group_with_members_and_adds_one_through_the_rendered_form(
    browser: Any, live_server: Any, superuser: User, owner: User, member: User, make_user: Callable[..., User]
) -> None:
    from groups.models import Membership, Organization

    make_user("nina")
    superuser.set_password("pw-admin")
    superuser.save()
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(live_server.url + "/admin/login/?next=/admin/")
    page.get_by_label("Username").fill(superuser.username)
    page.get_by_label("Password").fill("pw-admin")
    page.get_by_role("button", name="Log in").click()
    group = Organization.objects.get(slug="acme")
    page.goto(f"{live_server.url}/admin/groups/organization/{group.pk}/change/")
    page.get_by_label("Name").fill("Acme Corporation")
    prefix = page.locator("input[name$='-INITIAL_FORMS']").get_attribute("name").removesuffix("-INITIAL_FORMS")
    existing = int(page.locator(f"input[name='{prefix}-INITIAL_FORMS']").input_value())
    assert existing == 2  # olivia and mia: the members' rows are on the form as rendered
    page.locator(f"input[name='{prefix}-{existing}-user']").fill("nina")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("ul.messagelist")).to_contain_text("was changed successfully")
    group.refresh_from_db()
    assert group.name == "Acme Corporation"
    members = set(Membership.objects.filter(organization=group).values_list("user__username", flat=True))
    assert {owner.username, member.username, "nina"} <= members
    context.close()


def test_a_person_reports_a_key_as_compromised_and_sees_who_used_it(
    sign_in: SignIn, owner: User, fake: FakeProvider
) -> None:
    from tests.factories import store_user_key

    key = store_user_key(owner)
    session = sign_in(owner)
    page = session.page
    page.locator("#try-message").fill("ping")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#try-answer")).to_contain_text("ping")
    page.locator("#keys-table tr[data-provider=openai]").get_by_role(
        "button", name="Report openai key as compromised"
    ).click()
    expect(page.locator("#page-status")).to_contain_text(f"Revoked {key.key_id}")
    expect(page.locator("#page-status")).to_contain_text(f"1 calls, 18 tokens, by {owner.username}")
    expect(page.locator("#keys-table tr[data-provider=openai] .badge")).to_have_text("revoked")
    assert ProviderKey.objects.get(pk=key.pk).status == "revoked"
    assert OPENAI_KEY not in session.seen()
    assert session.errors == []
