"""Credential format checks: what each provider accepts and refuses before any network call."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest

from providers.base import CredentialFormatError, ProviderAdapter, ProviderStatus
from providers.registry import REGISTRY, get_adapter_class
from tests.providers.fakes import (
    ALNUM,
    ANTHROPIC_KEY,
    AWS_SECRET,
    B64,
    BEDROCK_LONG_TERM_KEY,
    DEEPSEEK_KEY,
    EXAMPLES,
    GOOGLE_LEGACY_KEY,
    GROQ_KEY,
    HEX,
    OPENAI_PROJECT_KEY,
    OPENROUTER_KEY,
    UPPER_ALNUM,
    URLSAFE,
    rand,
)

ACCEPTED = [
    pytest.param(pid, credential, id=f"{pid}-{label}") for pid, cases in EXAMPLES.items() for label, credential in cases
]
STRING_KEY_EXAMPLES = [
    pytest.param(pid, cases[0][1], id=pid) for pid, cases in EXAMPLES.items() if isinstance(cases[0][1], str)
]
CONFIG_EXAMPLES = [
    pytest.param(pid, cases[0][1], id=pid) for pid, cases in EXAMPLES.items() if isinstance(cases[0][1], dict)
]


def is_usable(provider_id: str) -> bool:
    return REGISTRY[provider_id].spec.status is not ProviderStatus.DISCONTINUED


def refusal(adapter_cls: type[ProviderAdapter], raw: object) -> CredentialFormatError:
    with pytest.raises(CredentialFormatError) as excinfo:
        adapter_cls.parse_credential(raw)
    return excinfo.value


def test_every_registered_provider_has_examples() -> None:
    assert set(EXAMPLES) == set(REGISTRY)


# ---- real-shaped credentials are accepted --------------------------------------------------------


@pytest.mark.parametrize(("provider_id", "credential"), ACCEPTED)
def test_real_shaped_credential_is_accepted(provider_id: str, credential: Any) -> None:
    adapter_cls = get_adapter_class(provider_id)
    if not is_usable(provider_id):
        # Still recognised as this provider's format, but refused as discontinued (tested below).
        assert adapter_cls.check_key(credential) == credential
        return
    parsed = adapter_cls.parse_credential(credential)
    if isinstance(credential, str):
        assert parsed == credential
    else:
        assert parsed == {name: value.rstrip("/") for name, value in credential.items()}


@pytest.mark.parametrize(("provider_id", "credential"), [p for p in STRING_KEY_EXAMPLES if is_usable(p.values[0])])
def test_surrounding_whitespace_and_newline_are_trimmed(provider_id: str, credential: str) -> None:
    assert get_adapter_class(provider_id).parse_credential(f"  {credential}\r\n") == credential


@pytest.mark.parametrize(("provider_id", "credential"), [p for p in STRING_KEY_EXAMPLES if is_usable(p.values[0])])
@pytest.mark.parametrize("inner", [" ", "\n", "\t"])
def test_whitespace_inside_a_key_is_refused(provider_id: str, credential: str, inner: str) -> None:
    error = refusal(get_adapter_class(provider_id), credential[:12] + inner + credential[12:])
    assert error.code == "invalid_key_format"
    assert "whitespace" in error.message


@pytest.mark.parametrize(("provider_id", "credential"), [p for p in STRING_KEY_EXAMPLES if is_usable(p.values[0])])
def test_masked_key_sent_back_is_refused(provider_id: str, credential: str) -> None:
    error = refusal(get_adapter_class(provider_id), credential[:6] + "..." + credential[-4:])
    assert error.code == "invalid_key_format"


# Every adapter parses what a client sent with the shared ``ProviderAdapter.parse_credential`` (checked
# below), so one provider of each kind stands for all: a plain key, or an object of config fields.
KEY_PROVIDER = "openai"
CONFIG_PROVIDER = "azure"


@pytest.mark.parametrize(
    ("provider_id", "raw", "code"),
    [
        (KEY_PROVIDER, "", "missing_api_key"),
        (KEY_PROVIDER, "   \n", "missing_api_key"),
        (KEY_PROVIDER, None, "invalid_key_format"),
        (KEY_PROVIDER, 12345, "invalid_key_format"),
        (CONFIG_PROVIDER, "", "invalid_config"),
        (CONFIG_PROVIDER, "   \n", "invalid_config"),
        (CONFIG_PROVIDER, None, "invalid_config"),
        (CONFIG_PROVIDER, 12345, "invalid_config"),
    ],
)
def test_empty_or_non_string_credential_is_refused_with_its_code(provider_id: str, raw: object, code: str) -> None:
    assert refusal(get_adapter_class(provider_id), raw).code == code


@pytest.mark.parametrize("method", ["parse_credential", "coerce_config", "check_field"])
def test_every_adapter_parses_credentials_with_the_shared_code(method: str) -> None:
    """The tables above and below test one provider per kind because no adapter has its own version."""
    shared = getattr(ProviderAdapter, method).__func__
    assert [pid for pid, cls in REGISTRY.items() if getattr(cls, method).__func__ is not shared] == []


@pytest.mark.parametrize(
    ("provider_id", "key"),
    [
        ("openai", "sk-" + "a" * 10),
        ("openai", "pk-proj-" + rand(URLSAFE, 80)),
        ("anthropic", "sk-ant-api03-" + rand(URLSAFE, 20)),
        ("google", "AIza" + rand(URLSAFE, 20)),
        ("xai", "xai-short"),
        ("perplexity", "pplx-" + rand(ALNUM, 10)),
        ("ai21", rand(ALNUM, 36)),
        ("deepseek", "sk-" + rand(HEX, 16)),
        ("deepseek", "sk-" + rand(string.ascii_uppercase, 32)),
        ("together", "tgp_v1_short"),
        ("fireworks", rand(ALNUM, 40)),
        ("groq", "gsk_" + rand(ALNUM, 40)),
        ("groq", "gsk_" + rand(ALNUM, 60)),
        ("replicate", "r8_" + rand(ALNUM, 10)),
        ("openrouter", "sk-or-v1-" + rand(string.ascii_uppercase, 64)),
        ("novita", "sk-" + rand(ALNUM, 40)),
        ("cohere", "short"),
        ("hyperbolic", "too-short"),
    ],
)
def test_malformed_key_is_refused_with_the_providers_hint(provider_id: str, key: str) -> None:
    adapter_cls = get_adapter_class(provider_id)
    error = refusal(adapter_cls, key)
    assert error.code == "invalid_key_format"
    assert adapter_cls.spec.key_hint in error.message


# ---- wrong kinds of key --------------------------------------------------------------------------


def test_openai_admin_key_is_refused_for_chat_storage() -> None:
    key = "sk-admin-" + rand(URLSAFE, 58) + "T3BlbkFJ" + rand(URLSAFE, 58)
    error = refusal(get_adapter_class("openai"), key)
    assert error.code == "wrong_key_kind"
    assert "/v1/organization" in error.message


def test_anthropic_admin_key_is_refused_for_chat_storage() -> None:
    error = refusal(get_adapter_class("anthropic"), "sk-ant-admin01-" + rand(URLSAFE, 93) + "AA")
    assert error.code == "wrong_key_kind"
    assert "Admin" in error.message


def test_claude_code_oauth_token_is_not_an_anthropic_api_key() -> None:
    error = refusal(get_adapter_class("anthropic"), "sk-ant-oat01-" + rand(URLSAFE, 93) + "AA")
    assert error.code == "wrong_key_kind"
    assert "OAuth" in error.message


@pytest.mark.parametrize(
    ("provider_id", "key", "named"),
    [
        ("openai", ANTHROPIC_KEY, "Anthropic"),
        ("openai", OPENROUTER_KEY, "OpenRouter"),
        ("openai", GROQ_KEY, "Groq"),
        ("openai", DEEPSEEK_KEY, "DeepSeek"),
        ("openai", GOOGLE_LEGACY_KEY, "Gemini"),
        ("openai", "AKIA" + rand(UPPER_ALNUM, 16), "AWS access key ID"),
        ("deepseek", OPENAI_PROJECT_KEY, "OpenAI"),
        ("anthropic", OPENAI_PROJECT_KEY, "OpenAI"),
        ("groq", "xai-" + rand(ALNUM, 80), "xAI"),
        ("openrouter", ANTHROPIC_KEY, "Anthropic"),
        ("mistral", "r8_" + rand(URLSAFE, 37), "Replicate"),
        ("together", "fw_" + rand(ALNUM, 24), "Fireworks"),
        ("hyperbolic", "pplx-" + rand(ALNUM, 48), "Perplexity"),
        ("cohere", "dapi" + rand(HEX, 32), "Databricks"),
        ("novita", "cfut_" + rand(ALNUM, 40) + rand(HEX, 8), "Cloudflare"),
        ("google", BEDROCK_LONG_TERM_KEY, "Bedrock"),
    ],
)
def test_key_of_another_provider_is_refused_naming_that_provider(provider_id: str, key: str, named: str) -> None:
    error = refusal(get_adapter_class(provider_id), key)
    assert error.code == "wrong_key_kind"
    assert named in error.message
    assert REGISTRY[provider_id].spec.name in error.message


@pytest.mark.parametrize(
    ("provider_id", "field_name", "value", "named"),
    [
        ("azure", "api_key", OPENAI_PROJECT_KEY, "OpenAI"),
        ("cloudflare", "api_token", GROQ_KEY, "Groq"),
        ("databricks", "api_token", ANTHROPIC_KEY, "Anthropic"),
    ],
)
def test_key_of_another_provider_is_refused_in_a_config_secret_field(
    provider_id: str, field_name: str, value: str, named: str
) -> None:
    credential = dict(EXAMPLES[provider_id][0][1], **{field_name: value})
    error = refusal(get_adapter_class(provider_id), credential)
    assert error.code == "wrong_key_kind"
    assert error.field == field_name
    assert named in error.message


def test_cloudflare_global_api_key_is_refused_asking_for_an_api_token() -> None:
    credential = {"account_id": rand(HEX, 32), "api_token": rand(HEX, 37)}
    error = refusal(get_adapter_class("cloudflare"), credential)
    assert error.code == "wrong_key_kind"
    assert error.field == "api_token"
    assert "Global API Key" in error.message and "API token" in error.message


@pytest.mark.parametrize(("provider_id", "credential"), STRING_KEY_EXAMPLES)
def test_a_providers_own_key_is_never_taken_for_another_kind(provider_id: str, credential: str) -> None:
    adapter_cls = get_adapter_class(provider_id)
    adapter_cls.check_key_kind(credential)


# ---- discontinued providers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "provider_id", [pid for pid, cls in REGISTRY.items() if cls.spec.status is ProviderStatus.DISCONTINUED]
)
def test_discontinued_provider_refuses_new_keys_naming_the_date(provider_id: str) -> None:
    adapter_cls = get_adapter_class(provider_id)
    error = refusal(adapter_cls, EXAMPLES[provider_id][0][1])
    assert error.code == "provider_discontinued"
    assert adapter_cls.spec.status_date in error.message


@pytest.mark.parametrize("provider_id", ["lepton", "inflection"])
def test_legacy_provider_still_accepts_keys(provider_id: str) -> None:
    credential = EXAMPLES[provider_id][0][1]
    assert get_adapter_class(provider_id).parse_credential(credential)


# ---- config providers ---------------------------------------------------------------------------

REQUIRED_FIELDS = [
    pytest.param(pid, f.name, id=f"{pid}-{f.name}")
    for pid, cls in REGISTRY.items()
    for f in cls.spec.config_fields
    if f.required
]
URL_FIELDS = [
    pytest.param(pid, f.name, id=f"{pid}-{f.name}")
    for pid, cls in REGISTRY.items()
    for f in cls.spec.config_fields
    if f.kind.value == "url"
]


@pytest.mark.parametrize(("provider_id", "field_name"), REQUIRED_FIELDS)
@pytest.mark.parametrize("absent", ["dropped", "empty", "blank"])
def test_missing_required_config_field_is_refused_naming_the_field(
    provider_id: str, field_name: str, absent: str
) -> None:
    credential = dict(EXAMPLES[provider_id][0][1])
    if absent == "dropped":
        del credential[field_name]
    else:
        credential[field_name] = "" if absent == "empty" else "   "
    error = refusal(get_adapter_class(provider_id), credential)
    assert error.code == "missing_config_field"
    assert error.field == field_name
    assert field_name in error.message


@pytest.mark.parametrize(
    ("bad_url", "code"),
    [
        ("not a url", "invalid_key_format"),  # whitespace inside, refused like any pasted value
        ("my-resource.openai.azure.com", "invalid_config"),
        ("ftp://example.com", "invalid_config"),
        ("https://user:secret@example.com", "invalid_config"),
        ("https://example.com:99999", "invalid_config"),
        ("javascript:alert(1)", "invalid_config"),
    ],
)
def test_bad_url_is_refused_naming_the_field(bad_url: str, code: str) -> None:
    credential = dict(EXAMPLES[CONFIG_PROVIDER][0][1], endpoint_url=bad_url)
    error = refusal(get_adapter_class(CONFIG_PROVIDER), credential)
    assert error.code == code
    assert error.field == "endpoint_url"


@pytest.mark.parametrize(("provider_id", "field_name"), URL_FIELDS)
def test_every_url_field_is_checked_as_a_url(provider_id: str, field_name: str) -> None:
    """URL fields share one check (the table above); each provider's URL fields go through it."""
    credential = dict(EXAMPLES[provider_id][0][1], **{field_name: "ftp://example.com"})
    error = refusal(get_adapter_class(provider_id), credential)
    assert (error.code, error.field) == ("invalid_config", field_name)


# https-only for URLs that receive a key is the SSRF guard's rule (tests/providers/test_ssrf.py).


def test_local_ollama_may_use_plain_http() -> None:
    parsed = get_adapter_class("ollama").parse_credential({"base_url": "http://192.168.1.20:11434/"})
    assert parsed == {"base_url": "http://192.168.1.20:11434"}


@pytest.mark.parametrize("region", ["us-east", "US-EAST-1", "useast1", "us_east_1", "eu-central-1a", "global"])
def test_bad_region_is_refused(region: str) -> None:
    credential = dict(EXAMPLES["bedrock"][0][1], region=region)
    error = refusal(get_adapter_class("bedrock"), credential)
    assert error.code == "invalid_config"
    assert error.field == "region"


@pytest.mark.parametrize(("provider_id", "credential"), CONFIG_EXAMPLES)
def test_config_given_as_a_json_string_is_accepted(provider_id: str, credential: dict[str, str]) -> None:
    adapter_cls = get_adapter_class(provider_id)
    assert adapter_cls.parse_credential(json.dumps(credential)) == adapter_cls.parse_credential(credential)


@pytest.mark.parametrize(("provider_id", "credential"), CONFIG_EXAMPLES)
def test_unknown_config_field_is_refused(provider_id: str, credential: dict[str, str]) -> None:
    error = refusal(get_adapter_class(provider_id), dict(credential, apikey="x" * 32))
    assert error.code == "invalid_config"
    assert error.field == "apikey"


@pytest.mark.parametrize(("provider_id", "credential"), CONFIG_EXAMPLES)
@pytest.mark.parametrize("raw", ["sk-not-json", "[1, 2]", "null"])
def test_config_provider_refuses_a_bare_string_or_non_object(provider_id: str, credential: object, raw: str) -> None:
    error = refusal(get_adapter_class(provider_id), raw)
    assert error.code == "invalid_config"


@pytest.mark.parametrize(("provider_id", "credential"), CONFIG_EXAMPLES)
def test_whitespace_around_config_values_is_trimmed(provider_id: str, credential: dict[str, str]) -> None:
    adapter_cls = get_adapter_class(provider_id)
    padded = {name: f" {value}\n" for name, value in credential.items()}
    assert adapter_cls.parse_credential(padded) == adapter_cls.parse_credential(credential)


def test_azure_api_version_is_optional_but_checked_when_given() -> None:
    adapter_cls = get_adapter_class("azure")
    base = EXAMPLES["azure"][0][1]
    assert "api_version" not in adapter_cls.parse_credential(dict(base, api_version=""))
    error = refusal(adapter_cls, dict(base, api_version="october"))
    assert error.code == "invalid_config" and error.field == "api_version"


def test_azure_key_of_the_wrong_shape_is_refused() -> None:
    error = refusal(get_adapter_class("azure"), dict(EXAMPLES["azure"][0][1], api_key="abc123"))
    assert error.code == "invalid_config" and error.field == "api_key"


def test_cloudflare_account_id_must_be_32_hex() -> None:
    error = refusal(get_adapter_class("cloudflare"), dict(EXAMPLES["cloudflare"][0][1], account_id="my-account"))
    assert error.code == "invalid_config" and error.field == "account_id"


# ---- bedrock credential combinations ------------------------------------------------------------

AKIA = "AKIA" + rand(UPPER_ALNUM, 16)
ASIA = "ASIA" + rand(UPPER_ALNUM, 16)
SESSION_TOKEN = "IQoJb3JpZ2luX2VjE" + rand(B64, 300)


@pytest.mark.parametrize(
    ("credential", "code", "field"),
    [
        pytest.param({"region": "us-east-1"}, "missing_config_field", "bedrock_api_key", id="no credentials"),
        pytest.param(
            {"access_key_id": AKIA, "region": "us-east-1"},
            "missing_config_field",
            "secret_access_key",
            id="key id without secret",
        ),
        pytest.param(
            {"secret_access_key": AWS_SECRET, "region": "us-east-1"},
            "missing_config_field",
            "access_key_id",
            id="secret without key id",
        ),
        pytest.param(
            {"session_token": SESSION_TOKEN, "region": "us-east-1"},
            "missing_config_field",
            "access_key_id",
            id="session token alone",
        ),
        pytest.param(
            {"access_key_id": ASIA, "secret_access_key": AWS_SECRET, "region": "us-east-1"},
            "missing_config_field",
            "session_token",
            id="temporary key without session token",
        ),
        pytest.param(
            {
                "access_key_id": AKIA,
                "secret_access_key": AWS_SECRET,
                "session_token": SESSION_TOKEN,
                "region": "us-east-1",
            },
            "invalid_config",
            "session_token",
            id="long-term key with session token",
        ),
        pytest.param(
            {
                "access_key_id": AKIA,
                "secret_access_key": AWS_SECRET,
                "bedrock_api_key": BEDROCK_LONG_TERM_KEY,
                "region": "us-east-1",
            },
            "invalid_config",
            "bedrock_api_key",
            id="both forms",
        ),
        pytest.param(
            {"session_token": SESSION_TOKEN, "bedrock_api_key": BEDROCK_LONG_TERM_KEY, "region": "us-east-1"},
            "invalid_config",
            "bedrock_api_key",
            id="api key with session token",
        ),
        pytest.param(
            {"bedrock_api_key": BEDROCK_LONG_TERM_KEY},
            "missing_config_field",
            "region",
            id="api key without region",
        ),
    ],
)
def test_bedrock_refuses_each_wrong_combination_of_credentials(
    credential: dict[str, str], code: str, field: str
) -> None:
    error = refusal(get_adapter_class("bedrock"), credential)
    assert error.code == code
    assert error.field == field
    assert field in error.message


@pytest.mark.parametrize(
    ("field_name", "value"),
    [
        ("access_key_id", "akia" + rand(UPPER_ALNUM, 16)),
        ("access_key_id", "XKIA" + rand(UPPER_ALNUM, 16)),
        ("secret_access_key", rand(B64, 39)),
        ("secret_access_key", rand(B64, 39) + "-"),
    ],
)
def test_bedrock_malformed_iam_field_is_refused(field_name: str, value: str) -> None:
    credential = dict(EXAMPLES["bedrock"][0][1], **{field_name: value})
    error = refusal(get_adapter_class("bedrock"), credential)
    assert error.code == "invalid_config"
    assert error.field == field_name


@pytest.mark.parametrize("api_key", ["ABSK" + rand(B64, 20), "bedrock-api-key", "sk-" + rand(ALNUM, 120)])
def test_bedrock_malformed_api_key_is_refused(api_key: str) -> None:
    error = refusal(get_adapter_class("bedrock"), {"bedrock_api_key": api_key, "region": "us-east-1"})
    assert error.code == "invalid_config"
    assert error.field == "bedrock_api_key"


# ---- last four characters ------------------------------------------------------------------------


def test_last4_of_a_string_key_is_its_last_four_characters() -> None:
    assert get_adapter_class("openai").last4(OPENAI_PROJECT_KEY) == OPENAI_PROJECT_KEY[-4:]


def test_last4_of_azure_is_taken_from_the_api_key() -> None:
    credential = EXAMPLES["azure"][0][1]
    assert get_adapter_class("azure").last4(credential) == credential["api_key"][-4:]


def test_last4_of_bedrock_iam_credentials_is_taken_from_the_secret_access_key() -> None:
    credential = EXAMPLES["bedrock"][0][1]
    last4 = get_adapter_class("bedrock").last4(credential)
    assert last4 == AWS_SECRET[-4:]
    assert last4 != credential["access_key_id"][-4:]


def test_last4_of_bedrock_api_key_credentials_is_taken_from_the_api_key() -> None:
    credential = {"bedrock_api_key": BEDROCK_LONG_TERM_KEY, "region": "us-east-1"}
    assert get_adapter_class("bedrock").last4(credential) == BEDROCK_LONG_TERM_KEY[-4:]


def test_last4_of_ollama_without_a_key_is_empty() -> None:
    assert get_adapter_class("ollama").last4({"base_url": "http://localhost:11434"}) == ""


def test_adapter_repr_never_shows_the_credential() -> None:
    adapter = get_adapter_class("openai")(OPENAI_PROJECT_KEY)
    assert OPENAI_PROJECT_KEY[-8:] not in repr(adapter)
