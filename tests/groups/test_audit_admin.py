"""The audit log in the admin: read-only, with the chain's columns, group filter scoped to the team
administrator's groups, and a "Verify chain" link for platform staff."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from groups.models import AuditEvent, Organization, User
from groups.services import group_create

CHANGELIST = "admin:groups_auditevent_changelist"
VERIFY = "admin:groups_auditevent_verify"


@pytest.fixture
def team_admin(owner: User, group: Organization, make_user: Any) -> Client:
    """The owner of acme, given staff status: a team administrator. Another group exists beside it."""
    group_create(actor=make_user("zed"), slug="other", name="Other")
    owner.is_staff = True
    owner.save()
    client = Client()
    client.force_login(owner)
    return client


def test_platform_staff_see_the_chain_columns_and_verify_it(admin_client: Client, group: Organization) -> None:
    page = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "Verify chain" in page and reverse(VERIFY) in page
    event = AuditEvent.objects.get(action="group.created")
    assert event.hash[:12] in page
    detail = admin_client.get(reverse("admin:groups_auditevent_change", args=[event.pk])).content.decode()
    assert event.hash in detail and event.prev_hash in detail
    response = admin_client.get(reverse(VERIFY), follow=True)
    assert response.redirect_chain[-1][0] == reverse(CHANGELIST)
    assert f"{AuditEvent.objects.count()} events, chain intact" in response.content.decode()


def test_the_verify_link_names_the_first_broken_link(admin_client: Client, group: Organization) -> None:
    event = AuditEvent.objects.get(action="group.created")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {AuditEvent._meta.db_table} SET target_id = 'renamed' WHERE id = %s", [event.pk])
    page = admin_client.get(reverse(VERIFY), follow=True).content.decode()
    assert "Audit chain broken" in page and f"event #{event.sequence} " in page


def test_team_administrators_cannot_verify_the_whole_chain(team_admin: Client) -> None:
    page = team_admin.get(reverse(CHANGELIST)).content.decode()
    assert "Verify chain" not in page
    assert team_admin.get(reverse(VERIFY)).status_code == 403


def test_a_team_administrators_group_filter_lists_only_their_groups(team_admin: Client) -> None:
    page = team_admin.get(reverse(CHANGELIST)).content.decode()
    assert "?organization__id__exact=" in page
    assert "acme" in page and "other" not in page
