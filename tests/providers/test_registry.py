"""The provider registry and every provider's declared facts (Django-free)."""

from __future__ import annotations

import json
import re
from datetime import date
from typing import Any

import pytest

from providers.base import FieldKind, ProviderAdapter, ProviderStatus
from providers.registry import (
    REGISTRY,
    UnknownProviderError,
    all_adapter_classes,
    get_adapter_class,
)


def public_entry(adapter_cls: type[ProviderAdapter]) -> dict[str, Any]:
    """The provider's entry as ``GET /api/byok/providers`` renders it."""
    from byok_keys.serializers import ProviderSerializer

    return dict(ProviderSerializer(adapter_cls).data)


# The ids of the provider reference, in the order of its main table.
REFERENCE_IDS = (
    "openai",
    "anthropic",
    "google",
    "azure",
    "bedrock",
    "xai",
    "cohere",
    "mistral",
    "perplexity",
    "inflection",
    "ai21",
    "deepseek",
    "together",
    "fireworks",
    "groq",
    "replicate",
    "anyscale",
    "hyperbolic",
    "sambanova",
    "lepton",
    "octoai",
    "databricks",
    "cloudflare",
    "novita",
    "openrouter",
    "ollama",
)

REFERENCE_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "google": "https://generativelanguage.googleapis.com/v1beta",
    "bedrock": "https://bedrock-runtime.{region}.amazonaws.com",
    "xai": "https://api.x.ai/v1",
    "cohere": "https://api.cohere.com",
    "mistral": "https://api.mistral.ai/v1",
    "perplexity": "https://api.perplexity.ai",
    "inflection": "https://layercake.pubwestus3.inf7ks8.com",
    "ai21": "https://api.ai21.com/studio/v1",
    "deepseek": "https://api.deepseek.com",
    "together": "https://api.together.xyz/v1",
    "fireworks": "https://api.fireworks.ai/inference/v1",
    "groq": "https://api.groq.com/openai/v1",
    "replicate": "https://api.replicate.com/v1",
    "anyscale": "https://api.endpoints.anyscale.com/v1",
    "hyperbolic": "https://api.hyperbolic.xyz/v1",
    "sambanova": "https://api.sambanova.ai/v1",
    "octoai": "https://text.octoai.run/v1",
    "cloudflare": "https://api.cloudflare.com/client/v4",
    "novita": "https://api.novita.ai/openai/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "ollama": "http://localhost:11434",
}

# Base URLs that come from the user's own config field.
USER_URL_PROVIDERS = {
    "azure": "endpoint_url",
    "databricks": "workspace_url",
    "lepton": "base_url",
    "ollama": "base_url",
}

CONFIG_PROVIDERS = {"azure", "bedrock", "cloudflare", "databricks", "lepton", "ollama"}

ALL = pytest.mark.parametrize("adapter_cls", all_adapter_classes(), ids=list(REGISTRY))

PUBLIC_KEYS = {
    "id",
    "name",
    "requiresConfig",
    "configFields",
    "keyHint",
    "keyPattern",
    "status",
    "statusDate",
    "statusNote",
    "docsUrl",
    "authStyle",
    "validationBilled",
    "exampleModels",
    "envVar",
    "envConfig",
    "baseUrlEnvVar",
}


def _patterns(adapter_cls: type[ProviderAdapter]) -> list[str]:
    spec = adapter_cls.spec
    found = [f.pattern for f in spec.config_fields if f.pattern]
    return [spec.key_pattern, *found] if spec.key_pattern else found


# ---- the registry -------------------------------------------------------------------------------


def test_registry_holds_exactly_the_reference_providers_in_reference_order() -> None:
    assert tuple(REGISTRY) == REFERENCE_IDS


@ALL
def test_registry_key_is_the_adapters_own_id(adapter_cls: type[ProviderAdapter]) -> None:
    assert REGISTRY[adapter_cls.spec.id] is adapter_cls


def test_each_provider_has_its_own_adapter_class() -> None:
    assert len(set(REGISTRY.values())) == len(REGISTRY)


def test_all_adapter_classes_lists_the_registry_in_order() -> None:
    assert [cls.spec.id for cls in all_adapter_classes()] == list(REFERENCE_IDS)


@pytest.mark.parametrize("provider_id", REFERENCE_IDS)
def test_get_adapter_class_finds_every_provider(provider_id: str) -> None:
    assert get_adapter_class(provider_id).spec.id == provider_id


@pytest.mark.parametrize("provider_id", ["azure-openai", "OpenAI", " openai", "", "claude"])
def test_unknown_provider_id_is_refused_with_the_valid_ids(provider_id: str) -> None:
    with pytest.raises(UnknownProviderError) as excinfo:
        get_adapter_class(provider_id)
    message = str(excinfo.value)
    assert "openai" in message and "ollama" in message and "azure" in message


def test_unknown_provider_error_is_a_lookup_error() -> None:
    with pytest.raises(LookupError):
        get_adapter_class("nope")


def test_unknown_provider_error_does_not_echo_a_huge_id() -> None:
    with pytest.raises(UnknownProviderError) as excinfo:
        get_adapter_class("x" * 5000)
    assert len(str(excinfo.value)) < 500


def test_unhashable_provider_id_is_an_unknown_provider_not_a_type_error() -> None:
    with pytest.raises(UnknownProviderError):
        get_adapter_class(["openai"])  # type: ignore[arg-type]


# ---- every spec is well-formed -----------------------------------------------------------------


@ALL
def test_spec_patterns_compile(adapter_cls: type[ProviderAdapter]) -> None:
    for pattern in _patterns(adapter_cls):
        re.compile(pattern)


@ALL
def test_spec_patterns_are_anchored_and_use_only_syntax_javascript_understands(
    adapter_cls: type[ProviderAdapter],
) -> None:
    # The public list sends these to browsers for early feedback.
    for pattern in _patterns(adapter_cls):
        assert pattern.startswith("^") and pattern.endswith("$"), pattern
        assert "(?P" not in pattern and "\\A" not in pattern and "\\Z" not in pattern, pattern


@ALL
def test_spec_has_name_hint_docs_and_env_var(adapter_cls: type[ProviderAdapter]) -> None:
    spec = adapter_cls.spec
    assert spec.name.strip()
    assert spec.key_hint.strip()
    assert spec.docs_url.startswith("https://")
    assert spec.env_var and re.fullmatch(r"[A-Z][A-Z0-9_]+", spec.env_var)
    assert spec.example_models


@pytest.mark.parametrize(("provider_id", "base_url"), REFERENCE_BASE_URLS.items())
def test_default_base_url_matches_the_reference(provider_id: str, base_url: str) -> None:
    assert REGISTRY[provider_id].spec.base_url == base_url


@pytest.mark.parametrize(("provider_id", "field_name"), USER_URL_PROVIDERS.items())
def test_providers_on_the_users_url_declare_which_field_holds_it(provider_id: str, field_name: str) -> None:
    spec = REGISTRY[provider_id].spec
    assert spec.extra["base_url_field"] == field_name
    assert next(f for f in spec.config_fields if f.name == field_name).kind is FieldKind.URL


def test_exactly_the_config_providers_require_config() -> None:
    assert {pid for pid, cls in REGISTRY.items() if cls.spec.requires_config} == CONFIG_PROVIDERS


@ALL
def test_config_spec_fields_are_consistent(adapter_cls: type[ProviderAdapter]) -> None:
    spec = adapter_cls.spec
    names = [f.name for f in spec.config_fields]
    assert len(names) == len(set(names))
    if not spec.requires_config:
        assert spec.secret_field is None and not spec.env_config
        return
    assert any(f.required for f in spec.config_fields)
    assert all(f.label.strip() and f.hint.strip() for f in spec.config_fields)
    if spec.secret_field is not None:
        secret = next(f for f in spec.config_fields if f.name == spec.secret_field)
        assert secret.kind is FieldKind.SECRET
    # Every field can be set for the operator's system credential.
    assert [name for name, _ in spec.env_config] == names
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]+", var) for _, var in spec.env_config)


@pytest.mark.parametrize(
    ("provider_id", "field_name", "env_var"),
    [
        ("azure", "endpoint_url", "AZURE_OPENAI_ENDPOINT"),
        ("azure", "deployment_id", "AZURE_OPENAI_DEPLOYMENT"),
        ("azure", "api_version", "AZURE_OPENAI_API_VERSION"),
        ("bedrock", "access_key_id", "AWS_ACCESS_KEY_ID"),
        ("bedrock", "secret_access_key", "AWS_SECRET_ACCESS_KEY"),
        ("bedrock", "session_token", "AWS_SESSION_TOKEN"),
        ("bedrock", "bedrock_api_key", "AWS_BEARER_TOKEN_BEDROCK"),
        ("bedrock", "region", "AWS_REGION"),
        ("cloudflare", "account_id", "CLOUDFLARE_ACCOUNT_ID"),
        ("databricks", "workspace_url", "DATABRICKS_HOST"),
        ("ollama", "base_url", "OLLAMA_HOST"),
    ],
)
def test_config_field_reads_the_usual_environment_variable(provider_id: str, field_name: str, env_var: str) -> None:
    assert dict(REGISTRY[provider_id].spec.env_config)[field_name] == env_var


@ALL
def test_status_carries_what_a_user_needs_to_know(adapter_cls: type[ProviderAdapter]) -> None:
    spec = adapter_cls.spec
    if spec.status is ProviderStatus.DISCONTINUED:
        assert spec.status_date is not None and spec.status_note.strip()
    if spec.status is ProviderStatus.LEGACY:
        assert spec.status_note.strip()
    if spec.status_date is not None:
        date.fromisoformat(spec.status_date)


def test_statuses_match_the_reference() -> None:
    by_status = {
        status: {pid for pid, cls in REGISTRY.items() if cls.spec.status is status} for status in ProviderStatus
    }
    assert by_status[ProviderStatus.DISCONTINUED] == {"anyscale", "octoai"}
    assert by_status[ProviderStatus.LEGACY] == {"lepton", "inflection"}
    assert REGISTRY["octoai"].spec.status_date == "2024-10-31"
    assert REGISTRY["anyscale"].spec.status_date == "2024-08-01"
    assert "NVIDIA" in REGISTRY["lepton"].spec.status_note


def test_only_perplexity_and_inflection_need_a_billed_call_to_validate() -> None:
    assert {pid for pid, cls in REGISTRY.items() if cls.spec.validation_billed} == {
        "perplexity",
        "inflection",
    }


# ---- the public provider list ------------------------------------------------------------------


@ALL
def test_public_dict_has_exactly_the_documented_keys_and_is_json(adapter_cls: type[ProviderAdapter]) -> None:
    public = public_entry(adapter_cls)
    assert set(public) == PUBLIC_KEYS
    assert json.loads(json.dumps(public)) == public
    assert public["id"] == adapter_cls.spec.id
    assert public["requiresConfig"] is adapter_cls.spec.requires_config


def test_public_dict_of_a_config_provider_lists_its_fields() -> None:
    public = public_entry(REGISTRY["azure"])
    assert [f["name"] for f in public["configFields"]] == [
        "endpoint_url",
        "api_key",
        "deployment_id",
        "api_version",
    ]
    api_version = public["configFields"][3]
    assert api_version["required"] is False and api_version["kind"] == "text"
    assert public["authStyle"] == "api-key"


def test_public_dict_of_a_discontinued_provider_says_when() -> None:
    public = public_entry(REGISTRY["octoai"])
    assert public["status"] == "discontinued"
    assert public["statusDate"] == "2024-10-31"
    assert public["statusNote"]


def test_public_dict_has_no_pattern_where_no_key_format_is_known() -> None:
    assert public_entry(REGISTRY["hyperbolic"])["keyPattern"] is None


def test_override_variable_name_is_byok_id_base_url() -> None:
    assert REGISTRY["openai"].spec.env_base_url_var == "BYOK_OPENAI_BASE_URL"
    assert REGISTRY["azure"].spec.env_base_url_var == "BYOK_AZURE_BASE_URL"
