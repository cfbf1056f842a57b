"""The page's Activity section in a real browser: the caller's audit events, and a group's for its
owner, built from ``GET /api/byok/audit``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import expect

from groups.models import Organization, User
from tests.factories import OPENAI_KEY, store_group_key
from tests.fake_provider import FakeProvider
from tests.web.conftest import Session

pytestmark = [pytest.mark.real_http, pytest.mark.django_db(transaction=True)]

SignIn = Callable[..., Session]


def test_activity_shows_a_key_just_added_and_a_groups_events_to_its_owner(
    sign_in: SignIn, owner: User, group: Organization, fake: FakeProvider
) -> None:
    session = sign_in(owner)
    page = session.page
    activity = page.locator("#activity-table tbody")
    expect(activity.locator("tr[data-action='auth.signed_in']").first).to_contain_text("olivia")

    page.locator("#key-provider").select_option("openai")
    page.locator("#key-field-apiKey").fill(OPENAI_KEY)
    page.locator("#key-save").click()
    expect(page.locator("#key-outcome")).to_contain_text("Saved")
    page.get_by_role("button", name="Refresh").click()
    created = activity.locator("tr[data-action='key.created']")
    expect(created).to_have_count(1)
    expect(created).to_contain_text("provider_key byok_user_openai_")
    expect(created).to_contain_text("last4: " + OPENAI_KEY[-4:])
    expect(created).to_contain_text("127.0.0.1")

    # The owner switches to the group's events: a group key stored meanwhile is there.
    store_group_key(owner, group)
    page.get_by_label("Show", exact=True).select_option("acme")
    expect(activity.locator("tr[data-action='key.created']")).to_contain_text("byok_group_openai_")
    expect(activity.locator("tr[data-action='group.created']")).to_have_count(1)
    expect(activity.locator("tr[data-action='auth.signed_in']")).to_have_count(0)

    assert OPENAI_KEY not in session.seen()
    assert page.locator("#activity").inner_html().count("<script") == 0
    assert session.errors == []
