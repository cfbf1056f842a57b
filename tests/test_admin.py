from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.contrib.admin.sites import site
from django.test import Client
from django.urls import reverse

from byok_keys.models import ApiToken, ProviderKey
from byok_keys.services import KeyOwner, api_token_create, provider_key_set
from groups.models import AuditEvent, Membership, Organization, User
from groups.services import group_create, membership_set
from tests.factories import (
    ANTHROPIC_KEY,
    AZURE_CONFIG,
    GROQ_KEY,
    OPENAI_KEY,
    RenderedForm,
    rendered_form,
    run_admin_action,
)


@pytest.fixture
def admin_client(superuser: User) -> Client:
    # CSRF enforced: forms are submitted with the token the page rendered, as a browser does.
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    return client


@pytest.fixture
def populated(owner: User, member: User, group: Organization, superuser: User) -> dict[str, Any]:
    # No provider answer is mocked: the keys are stored unverified.
    user_key = provider_key_set(actor=owner, owner=KeyOwner(user=owner), provider="openai", raw=OPENAI_KEY).key
    group_key = provider_key_set(
        actor=owner, owner=KeyOwner(organization=group), provider="anthropic", raw=ANTHROPIC_KEY
    ).key
    config_key = provider_key_set(
        actor=owner, owner=KeyOwner(organization=group), provider="azure", raw=AZURE_CONFIG
    ).key
    token, _ = api_token_create(user=owner, name="t")
    return {"user_key": user_key, "group_key": group_key, "config_key": config_key, "token": token}


# Every secret stored above: none may appear on any admin page.
SAVED_SECRETS = (OPENAI_KEY, ANTHROPIC_KEY, AZURE_CONFIG["api_key"])


def _objects(populated: dict[str, Any], owner: User, group: Organization) -> dict[type, Any]:
    from gateway.models import UsageRecord

    usage = UsageRecord.objects.create(
        user=owner, provider="openai", model="gpt-4o-mini", source="group", organization=group, status="ok"
    )

    return {
        ProviderKey: populated["group_key"],
        ApiToken: populated["token"],
        AuditEvent: AuditEvent.objects.first(),
        UsageRecord: usage,
        Organization: group,
        User: owner,
    }


# Logs are written by the services only: their add page is refused.
READ_ONLY_MODELS = {"auditevent", "usagerecord"}


def assert_no_saved_secret(page: str) -> None:
    for secret in SAVED_SECRETS:
        assert secret not in page
    assert "byok:v1:" not in page  # nor any sealed secret


@pytest.mark.parametrize("model", list(site._registry), ids=lambda m: m._meta.label)
def test_admin_changelist_add_and_change_pages_render(
    admin_client: Client, populated: dict[str, Any], owner: User, group: Organization, model: Any
) -> None:
    opts = model._meta
    changelist = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
    assert changelist.status_code == 200
    assert_no_saved_secret(changelist.content.decode())
    add = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    assert add.status_code == (403 if opts.model_name in READ_ONLY_MODELS else 200)
    assert_no_saved_secret(add.content.decode())
    obj = _objects(populated, owner, group).get(model)
    assert obj is not None, f"no object to render the change page of {opts.label}"
    change = admin_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert change.status_code == 200
    assert_no_saved_secret(change.content.decode())


def test_no_key_page_shows_a_saved_secret_not_even_in_its_own_inputs(
    admin_client: Client, populated: dict[str, Any]
) -> None:
    for key in ProviderKey.objects.all():
        url = reverse("admin:byok_keys_providerkey_change", args=[key.pk])
        page = admin_client.get(url).content.decode()
        assert_no_saved_secret(page)
        form = rendered_form(admin_client, url)
        credential_inputs = [name for name in form.names() if name == "secret" or "__" in name]
        assert credential_inputs, "a key's page has inputs for a new credential"
        assert all(form[name] == "" for name in credential_inputs)


def test_key_list_shows_last4_never_secret_or_ciphertext(admin_client: Client, populated: dict[str, Any]) -> None:
    page = admin_client.get(reverse("admin:byok_keys_providerkey_changelist")).content.decode()
    key = populated["user_key"]
    assert key.last4 in page
    assert populated["config_key"].last4 == AZURE_CONFIG["api_key"][-4:]
    assert_no_saved_secret(page)
    assert key.sealed_secret not in page


def key_add_form(client: Client) -> RenderedForm:
    return rendered_form(client, reverse("admin:byok_keys_providerkey_add"))


def test_admin_adds_a_key_through_the_service(admin_client: Client, owner: User) -> None:
    form = key_add_form(admin_client)
    form["provider"] = "openai"
    form["owner_user"] = owner.username
    form["name"] = "From admin"
    form["secret"] = OPENAI_KEY
    response = form.submit(admin_client, "_save")
    assert response.status_code == 302, response.content.decode()[:2000]
    key = ProviderKey.objects.get(user=owner, provider="openai")
    assert key.name == "From admin"
    assert key.last4 == OPENAI_KEY[-4:]
    assert AuditEvent.objects.filter(action="key.created", target_id=key.key_id, actor_label="root").exists()


def test_admin_refuses_a_malformed_key_with_the_service_message(admin_client: Client, owner: User) -> None:
    form = key_add_form(admin_client)
    form["provider"] = "openai"
    form["owner_user"] = owner.username
    form["secret"] = "nope-not-a-key"
    response = form.submit(admin_client, "_save")
    assert response.status_code == 200
    page = response.content.decode()
    assert "does not look like a key for OpenAI" in page
    assert "nope-not-a-key" not in page
    assert not ProviderKey.objects.exists()


def test_admin_change_without_secret_keeps_the_secret(admin_client: Client, populated: dict[str, Any]) -> None:
    key = populated["group_key"]
    form = rendered_form(admin_client, reverse("admin:byok_keys_providerkey_change", args=[key.pk]))
    assert form["allowed_users_text"] == "all"
    form["name"] = "Renamed"
    form["description"] = "d"
    form["allowed_users_text"] = "mia"
    response = form.submit(admin_client, "_save")
    assert response.status_code == 302, response.content.decode()[:3000]
    key.refresh_from_db()
    assert key.name == "Renamed"
    assert key.key_id == populated["group_key"].key_id
    assert key.sealed_secret == populated["group_key"].sealed_secret
    assert [u.username for u in key.allowed_users.all()] == ["mia"]


def test_admin_creates_a_token_and_shows_it_once(admin_client: Client, owner: User) -> None:
    form = rendered_form(admin_client, reverse("admin:byok_keys_apitoken_add"))
    form["user"] = owner.username
    form["name"] = "ci"
    response = form.submit(admin_client, "_save")
    assert response.status_code == 200
    page = response.content.decode()
    token = ApiToken.objects.get(user=owner, name="ci")
    assert f"byokt_{token.lookup_id}." in page
    plaintext = page.split('id="new-token"')[1].split(">")[1].split("<")[0]
    from byok_keys import tokens

    assert tokens.matches(plaintext, token.digest)
    # Shown once: the change page never shows it again.
    change = admin_client.get(reverse("admin:byok_keys_apitoken_change", args=[token.pk])).content.decode()
    assert plaintext not in change


def test_admin_revokes_tokens(admin_client: Client, populated: dict[str, Any]) -> None:
    token = populated["token"]
    response = run_admin_action(admin_client, reverse("admin:byok_keys_apitoken_changelist"), "revoke_tokens", [token])
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert AuditEvent.objects.filter(action="token.revoked").exists()


def group_form(client: Client, group: Organization) -> RenderedForm:
    return rendered_form(client, reverse("admin:groups_organization_change", args=[group.pk]))


def member_rows(form: RenderedForm) -> dict[str, str]:
    """The inline's rows as the page shows them: the username in each row's box -> the row's prefix."""
    rows = {}
    for name in form.names():
        if name.startswith("memberships-") and name.endswith("-id") and form[name]:
            prefix = name[: -len("-id")]
            rows[form.shown[prefix + "-user"]] = prefix
    return rows


def new_member_row(form: RenderedForm) -> str:
    """The prefix of the inline's empty row for a new member (the browser's extra row, not the template)."""
    for name in form.names():
        if re.fullmatch(r"memberships-\d+-user", name) and not form[name]:
            return name[: -len("-user")]
    raise AssertionError("the group page has no empty member row")


def test_the_group_page_shows_each_members_username_not_their_id(
    admin_client: Client, group: Organization, owner: User, member: User
) -> None:
    form = group_form(admin_client, group)
    assert sorted(member_rows(form)) == [member.username, owner.username]


def test_admin_membership_inline_goes_through_the_service(
    admin_client: Client, group: Organization, outsider: User, owner: User
) -> None:
    form = group_form(admin_client, group)
    row = new_member_row(form)
    form[f"{row}-user"] = outsider.username
    form[f"{row}-role"] = "member"
    response = form.submit(admin_client, "_save")
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Membership.objects.filter(organization=group, user=outsider, role="member").exists()
    assert AuditEvent.objects.filter(action="membership.added", target_id="acme/oscar").exists()


def test_platform_staff_rename_a_group_with_members_and_add_one_through_the_rendered_form(
    admin_client: Client, group: Organization, owner: User, member: User, group_admin: User, outsider: User
) -> None:
    form = group_form(admin_client, group)
    form["name"] = "Acme Corp"
    row = new_member_row(form)
    form[f"{row}-user"] = outsider.username
    response = form.submit(admin_client, "_save")
    assert response.status_code == 302, response.content.decode()[:3000]
    group.refresh_from_db()
    assert group.name == "Acme Corp"
    roles = dict(Membership.objects.filter(organization=group).values_list("user__username", "role"))
    assert roles == {"olivia": "owner", "mia": "member", "adam": "admin", "oscar": "member"}
    assert Membership.objects.get(user=outsider, organization=group).is_active  # staff add directly
    assert AuditEvent.objects.filter(action="group.renamed", target_id="acme").exists()
    # Untouched rows changed nothing: no role change was recorded.
    assert not AuditEvent.objects.filter(action="membership.role_changed").exists()


def test_team_admin_renames_their_group_and_adds_a_member_through_the_rendered_form(
    owner: User, member: User, group: Organization, outsider: User
) -> None:
    owner.is_staff = True
    owner.save()
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    form = group_form(client, group)
    form["name"] = "Acme Team"
    row = new_member_row(form)
    form[f"{row}-user"] = outsider.username
    response = form.submit(client, "_save")
    assert response.status_code == 302, response.content.decode()[:3000]
    group.refresh_from_db()
    assert group.name == "Acme Team"
    invited = Membership.objects.get(user=outsider, organization=group)
    assert invited.role == "member" and not invited.is_active  # a team admin's addition is an invitation
    assert Membership.objects.get(user=member, organization=group).is_active


def test_adding_an_unknown_username_says_so(admin_client: Client, group: Organization, owner: User) -> None:
    form = group_form(admin_client, group)
    form[f"{new_member_row(form)}-user"] = "nobody"
    response = form.submit(admin_client, "_save")
    assert response.status_code == 200
    assert "No active user has this username." in response.content.decode()
    assert Membership.objects.filter(organization=group).count() == 1


def test_a_member_row_changes_role_and_is_removed_through_the_rendered_form(
    admin_client: Client, group: Organization, owner: User, member: User, group_admin: User
) -> None:
    form = group_form(admin_client, group)
    rows = member_rows(form)
    form[f"{rows[member.username]}-role"] = "admin"
    form.check(f"{rows[group_admin.username]}-DELETE")
    response = form.submit(admin_client, "_save")
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Membership.objects.get(user=member, organization=group).role == "admin"
    assert not Membership.objects.filter(user=group_admin, organization=group).exists()


# ---- Team administrators -----------------------------------------------------------------------


@pytest.fixture
def team_admin_client(owner: User, group: Organization, populated: dict[str, Any], make_user: Any) -> Client:
    owner.is_staff = True
    owner.save()
    other_owner = make_user("zed")
    other = group_create(actor=other_owner, slug="other", name="Other")
    provider_key_set(actor=other_owner, owner=KeyOwner(organization=other), provider="openai", raw=OPENAI_KEY)
    provider_key_set(actor=other_owner, owner=KeyOwner(user=other_owner), provider="anthropic", raw=ANTHROPIC_KEY)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    return client


def test_team_admin_sees_only_their_groups_and_group_keys(team_admin_client: Client, populated: dict[str, Any]) -> None:
    groups_page = team_admin_client.get(reverse("admin:groups_organization_changelist")).content.decode()
    assert "acme" in groups_page and "other" not in groups_page
    keys_page = team_admin_client.get(reverse("admin:byok_keys_providerkey_changelist")).content.decode()
    assert populated["group_key"].key_id in keys_page
    assert "group:other" not in keys_page
    assert populated["user_key"].key_id not in keys_page  # not even their own personal key
    assert "user:zed" not in keys_page
    other = Organization.objects.get(slug="other")
    assert team_admin_client.get(reverse("admin:groups_organization_change", args=[other.pk])).status_code in (
        302,
        403,
        404,
    )
    other_key = ProviderKey.objects.get(organization=other)
    assert team_admin_client.get(reverse("admin:byok_keys_providerkey_change", args=[other_key.pk])).status_code in (
        302,
        403,
        404,
    )


def test_team_admin_cannot_reach_users_or_tokens(team_admin_client: Client) -> None:
    assert team_admin_client.get(reverse("admin:groups_user_changelist")).status_code == 403
    assert team_admin_client.get(reverse("admin:byok_keys_apitoken_changelist")).status_code == 403


def test_team_admin_adds_a_key_only_to_their_group(team_admin_client: Client, group: Organization) -> None:
    other = Organization.objects.get(slug="other")
    form = key_add_form(team_admin_client)
    assert form.options["organization"] == ["", str(group.pk)]  # the page offers their groups only
    assert "owner_user" in form.disabled  # and no personal keys
    form["provider"] = "groq"
    form["organization"] = str(group.pk)
    form["secret"] = GROQ_KEY
    form["allowed_users_text"] = "all"
    accepted = form.submit(team_admin_client, "_save")
    assert accepted.status_code == 302, accepted.context["adminform"].form.errors
    assert ProviderKey.objects.filter(organization=group, provider="groq").exists()
    # A forged submission naming another group is refused all the same.
    forged = key_add_form(team_admin_client).data()
    forged.update({"provider": ["groq"], "organization": [str(other.pk)], "secret": [GROQ_KEY]})
    refused = team_admin_client.post(reverse("admin:byok_keys_providerkey_add"), forged)
    assert refused.status_code == 200
    assert not ProviderKey.objects.filter(organization=other, provider="groq").exists()


def test_group_member_with_staff_flag_but_no_admin_role_sees_nothing(member: User, populated: dict[str, Any]) -> None:
    member.is_staff = True
    member.save()
    client = Client()
    client.force_login(member)
    assert client.get(reverse("admin:byok_keys_providerkey_changelist")).status_code == 403


def test_group_member_add_of_owner_by_admin_is_refused_in_admin(
    group_admin: User, group: Organization, outsider: User
) -> None:
    group_admin.is_staff = True
    group_admin.save()
    client = Client(enforce_csrf_checks=True)
    client.force_login(group_admin)
    form = group_form(client, group)
    row = new_member_row(form)
    form[f"{row}-user"] = outsider.username
    form[f"{row}-role"] = "owner"
    response = form.submit(client, "_save")
    assert response.status_code == 200
    assert "Only group owners" in response.content.decode()
    assert not Membership.objects.filter(user=outsider).exists()


def test_audit_events_are_read_only(admin_client: Client, populated: dict[str, Any]) -> None:
    event = AuditEvent.objects.first()
    assert event is not None
    url = reverse("admin:groups_auditevent_change", args=[event.pk])
    page = rendered_form(admin_client, url)  # a read-only page: no input but the CSRF token
    assert page.names() == ["csrfmiddlewaretoken"]
    response = admin_client.post(url, {"action": "x", "csrfmiddlewaretoken": page["csrfmiddlewaretoken"]})
    assert response.status_code == 403
    assert json.dumps(event.details).find(OPENAI_KEY) == -1


def test_admin_revokes_keys_and_revoked_keys_are_never_resolved(
    admin_client: Client, populated: dict[str, Any], owner: User
) -> None:
    from gateway.resolution import resolve_candidates

    key = populated["user_key"]
    response = run_admin_action(admin_client, reverse("admin:byok_keys_providerkey_changelist"), "revoke_keys", [key])
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.status == "revoked"
    assert AuditEvent.objects.filter(action="key.revoked", target_id=key.key_id).exists()
    assert resolve_candidates(user=owner, provider="openai") == []


def test_admin_rename_of_a_group_is_audited(admin_client: Client, group: Organization, owner: User) -> None:
    form = group_form(admin_client, group)
    form["name"] = "Acme Corp"
    assert form.submit(admin_client, "_save").status_code == 302
    assert AuditEvent.objects.filter(action="group.renamed", target_id="acme").exists()


def test_team_admin_sees_only_their_groups_audit_and_usage_logs(team_admin_client: Client, owner: User) -> None:
    from gateway.models import UsageRecord

    other = Organization.objects.get(slug="other")
    acme = Organization.objects.get(slug="acme")
    UsageRecord.objects.create(
        user=owner, provider="openai", model="mine-model", source="group", organization=acme, status="ok"
    )
    UsageRecord.objects.create(
        user=owner, provider="openai", model="their-model", source="group", organization=other, status="ok"
    )
    UsageRecord.objects.create(user=owner, provider="openai", model="personal-model", source="user", status="ok")
    usage_page = team_admin_client.get(reverse("admin:gateway_usagerecord_changelist")).content.decode()
    assert "mine-model" in usage_page
    assert "their-model" not in usage_page and "personal-model" not in usage_page
    audit_page = team_admin_client.get(reverse("admin:groups_auditevent_changelist")).content.decode()
    assert "acme/" in audit_page or "group.created" in audit_page
    other_events = AuditEvent.objects.filter(organization=other)
    assert other_events.exists()
    for event in other_events:
        assert team_admin_client.get(reverse("admin:groups_auditevent_change", args=[event.pk])).status_code in (
            302,
            403,
            404,
        )


def test_the_last_accepted_owner_cannot_leave_in_favour_of_an_invited_owner(
    admin_client: Client, owner: User, group: Organization, outsider: User
) -> None:
    membership_set(actor=owner, org=group, username=outsider.username, role="owner")  # invited
    form = group_form(admin_client, group)
    rows = member_rows(form)
    form[f"{rows[owner.username]}-role"] = "member"
    response = form.submit(admin_client, "_save")
    assert response.status_code == 200  # a form error, not a 500
    assert "at least one owner who has accepted" in response.content.decode()
    assert Membership.objects.get(organization=group, user=owner).role == "owner"


# ---- The site ----------------------------------------------------------------------------------


def test_the_admin_index_has_one_groups_entry_ours(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:index")).content.decode()
    entries = re.findall(r'<a href="([^"]+)"[^>]*>Groups</a>', page)
    assert entries == [reverse("admin:groups_organization_changelist")]
    assert admin_client.get("/admin/auth/group/").status_code == 404


def test_view_site_leads_to_the_page_and_the_header_names_the_service(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert '<a href="/byok-interface.html">View site</a>' in page
    assert "BYOK key vault" in page.split("<title>")[1].split("</title>")[0]
    assert "BYOK key vault administration" in page
