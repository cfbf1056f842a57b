"""The key management page in a real browser: every capability a person uses, end to end."""

from __future__ import annotations

from collections.abc import Callable

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
