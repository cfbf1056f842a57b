"""The provider key admin: each provider's own inputs, the live check's outcome when a key is saved, the
"Test key" action and button, and a list that fits the screen. Forms are submitted as the page renders
them (``tests.factories.rendered_form``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import responses
from django.test import Client
from django.urls import reverse

from byok_keys import vault
from byok_keys.models import ProviderKey
from groups.models import AuditEvent, Organization, User
from groups.services import group_create
from providers.base import FieldKind
from providers.registry import all_adapter_classes
from tests.factories import (
    ANTHROPIC_KEY,
    AZURE_CONFIG,
    AZURE_MODELS_URL,
    OPENAI_KEY,
    OPENAI_MODELS_URL,
    RenderedForm,
    rendered_form,
    run_admin_action,
    store_group_key,
    store_user_key,
)

CONFIG_SPECS = [cls.spec for cls in all_adapter_classes() if cls.spec.requires_config]
ANTHROPIC_MODELS_URL = "https://api.anthropic.com/v1/models"
INPUT_TYPE = {FieldKind.SECRET: "password", FieldKind.URL: "url", FieldKind.TEXT: "text", FieldKind.REGION: "text"}
NEW_AZURE_SECRET = "a1b2c3d4e5f60718" * 2


@pytest.fixture
def admin_client(superuser: User) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(superuser)
    return client


def add_form(client: Client) -> RenderedForm:
    return rendered_form(client, reverse("admin:byok_keys_providerkey_add"))


def change_url(key: ProviderKey) -> str:
    return reverse("admin:byok_keys_providerkey_change", args=[key.pk])


def shown_messages(response: Any) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in response.context["messages"]]


def fill_azure(form: RenderedForm, config: dict[str, str] = AZURE_CONFIG) -> None:
    for name, value in config.items():
        form[f"azure__{name}"] = value


# ---- Each provider's own inputs ----------------------------------------------------------------


def test_the_add_page_has_one_input_per_config_field_grouped_and_named_per_provider(admin_client: Client) -> None:
    page = admin_client.get(reverse("admin:byok_keys_providerkey_add")).content.decode()
    assert CONFIG_SPECS, "the registry has config providers"
    for spec in CONFIG_SPECS:
        fieldset = page.split(f"byok-credentials-for-{spec.id}")[1].split("</fieldset>")[0]
        assert f"{spec.name} credentials" in fieldset
        for field in spec.config_fields:
            found = re.search(rf'<input type="(\w+)" name="{spec.id}__{field.name}"', fieldset)
            assert found, f"no input for {spec.id}.{field.name}"
            assert found.group(1) == INPUT_TYPE[field.kind]
    # String-key providers keep their one password input; nowhere a JSON text box.
    assert re.search(r'<input type="password" name="secret"', page)
    assert "<textarea" not in page.split('name="description"')[1]
    # The script that shows the chosen provider's inputs is a static file.
    assert re.search(r'<script src="[^"]*/byok_keys/admin/provider_fields\.js"', page)


def test_a_config_provider_key_is_added_through_its_own_inputs(
    admin_client: Client, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, AZURE_MODELS_URL, json={"data": []})
    form = add_form(admin_client)
    form["provider"] = "azure"
    form["owner_user"] = owner.username
    fill_azure(form)
    response = form.submit(admin_client, "_save", follow=True)
    assert response.redirect_chain, response.content.decode()[:3000]
    key = ProviderKey.objects.get(user=owner, provider="azure")
    assert key.last4 == AZURE_CONFIG["api_key"][-4:]
    assert vault.open_credential(key) == AZURE_CONFIG
    assert provider_mock.calls[0].request.headers["api-key"] == AZURE_CONFIG["api_key"]
    assert ("success", "Validated live with Azure OpenAI: valid") in shown_messages(response)


def test_only_the_chosen_providers_inputs_are_used(
    admin_client: Client, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})
    form = add_form(admin_client)
    form["provider"] = "openai"
    form["owner_user"] = owner.username
    form["secret"] = OPENAI_KEY
    fill_azure(form)  # typed, then the person chose another provider
    assert form.submit(admin_client, "_save").status_code == 302
    key = ProviderKey.objects.get(user=owner)
    assert (key.provider, key.last4) == ("openai", OPENAI_KEY[-4:])
    assert [call.request.url for call in provider_mock.calls] == [OPENAI_MODELS_URL]


def test_a_missing_config_field_is_an_error_at_its_input_and_no_secret_is_rendered_back(
    admin_client: Client, owner: User
) -> None:
    form = add_form(admin_client)
    form["provider"] = "azure"
    form["owner_user"] = owner.username
    fill_azure(form, {**AZURE_CONFIG, "endpoint_url": ""})
    response = form.submit(admin_client, "_save")
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "endpoint_url" in errors["azure__endpoint_url"][0]
    page = response.content.decode()
    assert AZURE_CONFIG["api_key"] not in page
    assert AZURE_CONFIG["deployment_id"] in page  # not secret: kept so it need not be typed again
    assert not ProviderKey.objects.exists()


def test_an_empty_key_is_an_error_naming_the_provider(admin_client: Client, owner: User) -> None:
    form = add_form(admin_client)
    form["provider"] = "azure"
    form["owner_user"] = owner.username
    response = form.submit(admin_client, "_save")
    assert "Fill in the Azure OpenAI fields" in response.content.decode()
    form["provider"] = "openai"
    response = form.submit(admin_client, "_save")
    assert response.context["adminform"].form.errors["secret"] == ["Enter the OpenAI key."]
    assert not ProviderKey.objects.exists()


def test_a_config_keys_page_has_only_its_providers_inputs_all_empty(admin_client: Client, owner: User) -> None:
    key = store_user_key(owner, provider="azure", raw=AZURE_CONFIG)
    form = rendered_form(admin_client, change_url(key))
    credential_inputs = [name for name in form.names() if name == "secret" or "__" in name]
    assert sorted(credential_inputs) == sorted(f"azure__{name}" for name in AZURE_CONFIG)
    assert all(form[name] == "" for name in credential_inputs)
    page = admin_client.get(change_url(key)).content.decode()
    for value in AZURE_CONFIG.values():
        assert f'value="{value}"' not in page


def test_leaving_a_config_keys_inputs_empty_keeps_the_stored_credential(admin_client: Client, owner: User) -> None:
    key = store_user_key(owner, provider="azure", raw=AZURE_CONFIG)
    form = rendered_form(admin_client, change_url(key))
    form["name"] = "Production"
    response = form.submit(admin_client, "_save", follow=True)
    stored = ProviderKey.objects.get(pk=key.pk)
    assert (stored.name, stored.key_id, stored.sealed_secret) == ("Production", key.key_id, key.sealed_secret)
    assert not any("Validated live" in text for _, text in shown_messages(response))


def test_filling_a_config_keys_inputs_replaces_the_credential(
    admin_client: Client, owner: User, provider_mock: responses.RequestsMock
) -> None:
    key = store_user_key(owner, provider="azure", raw=AZURE_CONFIG)
    provider_mock.add(responses.GET, AZURE_MODELS_URL, json={"data": []})
    form = rendered_form(admin_client, change_url(key))
    fill_azure(form, {**AZURE_CONFIG, "api_key": NEW_AZURE_SECRET})
    response = form.submit(admin_client, "_save", follow=True)
    stored = ProviderKey.objects.get(pk=key.pk)
    assert stored.key_id != key.key_id and stored.last4 == NEW_AZURE_SECRET[-4:]
    assert vault.open_credential(stored)["api_key"] == NEW_AZURE_SECRET  # type: ignore[index]
    assert ("success", "Validated live with Azure OpenAI: valid") in shown_messages(response)
    assert NEW_AZURE_SECRET not in response.content.decode()


# ---- The outcome of the live check when a key is saved -------------------------------------------


@pytest.mark.parametrize(
    ("status", "payload", "level", "message"),
    [
        (200, {"data": []}, "success", "valid"),
        (
            401,
            {"error": {"message": "You have insufficient permissions for this operation. Missing scopes: x"}},
            "warning",
            "valid, restricted: ",
        ),
        (
            429,
            {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}},
            "warning",
            "valid, no credit: ",
        ),
        (503, {"error": {"message": "overloaded"}}, "warning", "unverified: "),
    ],
    ids=["valid", "restricted", "no_credit", "unverified"],
)
def test_saving_a_key_says_the_live_checks_outcome(
    admin_client: Client,
    owner: User,
    provider_mock: responses.RequestsMock,
    status: int,
    payload: Any,
    level: str,
    message: str,
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=status, json=payload)
    form = add_form(admin_client)
    form["provider"] = "openai"
    form["owner_user"] = owner.username
    form["secret"] = OPENAI_KEY
    response = form.submit(admin_client, "_save", follow=True)
    key = ProviderKey.objects.get(user=owner)
    said = [text for tag, text in shown_messages(response) if text.startswith("Validated live with OpenAI: ")]
    assert len(said) == 1
    outcome = said[0].removeprefix("Validated live with OpenAI: ")
    assert outcome.startswith(message)
    assert outcome == message or outcome.endswith(key.status_reason)  # with the reason when there is one
    assert (level, said[0]) in shown_messages(response)
    assert OPENAI_KEY not in response.content.decode()


def test_saving_a_key_the_provider_rejects_is_a_form_error_and_stores_nothing(
    admin_client: Client, owner: User, provider_mock: responses.RequestsMock
) -> None:
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, status=401, json={"error": {"message": "Incorrect API key"}})
    form = add_form(admin_client)
    form["provider"] = "openai"
    form["owner_user"] = owner.username
    form["secret"] = OPENAI_KEY
    response = form.submit(admin_client, "_save")
    assert response.status_code == 200
    assert "OpenAI rejected this key" in response.context["adminform"].form.errors["secret"][0]
    assert OPENAI_KEY not in response.content.decode()
    assert not ProviderKey.objects.exists()


# ---- Testing stored keys ------------------------------------------------------------------------


@pytest.fixture
def two_keys(owner: User, group: Organization) -> tuple[ProviderKey, ProviderKey]:
    return store_user_key(owner), store_group_key(owner, group, provider="anthropic", raw=ANTHROPIC_KEY)


def test_the_test_action_checks_each_selected_key_live_and_says_each_outcome(
    admin_client: Client, two_keys: tuple[ProviderKey, ProviderKey], provider_mock: responses.RequestsMock
) -> None:
    openai_key, anthropic_key = two_keys
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})
    provider_mock.add(
        responses.GET,
        ANTHROPIC_MODELS_URL,
        status=401,
        json={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
    )
    changelist = reverse("admin:byok_keys_providerkey_changelist")
    response = run_admin_action(admin_client, changelist, "test_keys", [openai_key, anthropic_key])
    assert response.status_code == 302
    said = shown_messages(admin_client.get(changelist))
    assert ("success", f"user:olivia openai key …{openai_key.last4} (OpenAI key): valid") in said
    invalid = [text for tag, text in said if tag == "error"]
    assert len(invalid) == 1 and invalid[0].startswith(f"group:acme anthropic key …{anthropic_key.last4}")
    assert ": invalid: " in invalid[0]
    assert ProviderKey.objects.get(pk=openai_key.pk).status == "valid"
    assert ProviderKey.objects.get(pk=anthropic_key.pk).status == "invalid"
    assert AuditEvent.objects.filter(action="key.status_changed", target_id=anthropic_key.key_id).exists()


def test_the_test_action_does_not_call_the_provider_for_a_revoked_key(
    admin_client: Client, owner: User, superuser: User
) -> None:
    from byok_keys.services import provider_key_revoke

    key = provider_key_revoke(actor=superuser, key=store_user_key(owner))
    changelist = reverse("admin:byok_keys_providerkey_changelist")
    run_admin_action(admin_client, changelist, "test_keys", [key])  # no provider answer is mocked
    assert ("warning", f"user:olivia openai key …{key.last4} (OpenAI key): revoked, not tested.") in shown_messages(
        admin_client.get(changelist)
    )


def test_the_test_key_button_on_a_keys_page_tests_it(
    admin_client: Client, owner: User, provider_mock: responses.RequestsMock
) -> None:
    key = store_user_key(owner)
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})
    button = rendered_form(admin_client, change_url(key), form_id="test-key-form")
    assert button.action == reverse("admin:byok_keys_providerkey_test", args=[key.pk])
    response = button.submit(admin_client, follow=True)
    assert response.redirect_chain[-1][0] == change_url(key)
    assert ("success", f"user:olivia openai key …{key.last4} (OpenAI key): valid") in shown_messages(response)
    assert ProviderKey.objects.get(pk=key.pk).status == "valid"


def test_the_test_key_address_only_tests_on_post(admin_client: Client, owner: User) -> None:
    key = store_user_key(owner)
    assert admin_client.get(reverse("admin:byok_keys_providerkey_test", args=[key.pk])).status_code == 405


def test_a_team_admin_tests_their_groups_keys_only(
    owner: User, group: Organization, make_user: Any, provider_mock: responses.RequestsMock
) -> None:
    owner.is_staff = True
    owner.save()
    theirs = store_group_key(owner, group)
    zed = make_user("zed")
    other = store_group_key(zed, group_create(actor=zed, slug="other", name="Other"))
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    provider_mock.add(responses.GET, OPENAI_MODELS_URL, json={"data": []})
    button = rendered_form(client, change_url(theirs), form_id="test-key-form")
    assert button.submit(client).status_code == 302
    assert ProviderKey.objects.get(pk=theirs.pk).status == "valid"
    # Another group's key: a 404, and nothing is tested (no further provider answer is mocked).
    forged = {"csrfmiddlewaretoken": button["csrfmiddlewaretoken"]}
    assert client.post(reverse("admin:byok_keys_providerkey_test", args=[other.pk]), forged).status_code == 404
    assert ProviderKey.objects.get(pk=other.pk).status == "unverified"


# ---- The list ---------------------------------------------------------------------------------------


def test_the_key_list_has_few_columns_with_a_status_badge(
    admin_client: Client, two_keys: tuple[ProviderKey, ProviderKey]
) -> None:
    page = admin_client.get(reverse("admin:byok_keys_providerkey_changelist")).content.decode()
    header = page.split("<thead>")[1].split("</thead>")[0]
    columns = re.findall(r'<th scope="col"\s+class="[^"]*?((?:action-checkbox|column-\w+)[^" ]*)', header)
    assert columns == [
        "action-checkbox-column",
        "column-owner",
        "column-provider",
        "column-name",
        "column-last4",
        "column-status_badge",
        "column-last_used",
    ]
    key = two_keys[0]
    assert f'<span class="byok-status byok-status-unverified" title="{key.status_reason}">Unverified</span>' in page
