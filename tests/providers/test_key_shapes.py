"""One list of key shapes: each provider's spec names its key signatures and prefixes once; the wrong-kind
check and log masking derive from the registry.

The masking contract runs every registered provider's example secrets (tests/providers/fakes.py) through
``mask_secrets`` and the logging filter: a provider added without masking coverage fails here.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from common.masking import SecretMaskingFilter, mask_secrets, registered_key_prefixes
from providers.base import CredentialFormatError
from providers.registry import REGISTRY, get_adapter_class, key_mask_prefixes
from tests.providers.fakes import (
    ALNUM,
    EXAMPLES,
    HEX,
    SHAPELESS_SECRETS,
    URLSAFE,
    example,
    rand,
    secrets_of,
)

PIECE = 8  # no piece this long of a secret may survive masking


def example_secrets() -> list[Any]:
    return [
        pytest.param(provider_id, label, secret, id=f"{provider_id}-{label}-{index}")
        for provider_id, cases in EXAMPLES.items()
        for label, credential in cases
        for index, secret in enumerate(secrets_of(provider_id, credential))
    ]


SECRETS = example_secrets()
SHAPED_SECRETS = [p for p in SECRETS if p.values[2] not in SHAPELESS_SECRETS]


def leftover_pieces(secret: str, text: str, *, public_prefix: str = "") -> list[str]:
    """The pieces of ``secret`` still in ``text``; the documented prefix a masked key keeps is public."""
    return [
        secret[i : i + PIECE]
        for i in range(len(secret) - PIECE + 1)
        if i + PIECE > len(public_prefix) and secret[i : i + PIECE] in text
    ]


def own_prefix(provider_id: str, secret: str) -> str:
    return max((p for p in REGISTRY[provider_id].spec.mask_prefixes if secret.startswith(p)), key=len, default="")


def through_the_log_filter(message: str, *args: object) -> str:
    record = logging.LogRecord("byok.test", logging.WARNING, __file__, 1, message, args, None)
    SecretMaskingFilter().filter(record)
    return record.getMessage()


# ---- log masking derives from the registry -------------------------------------------------------------


def test_every_registered_providers_prefixes_are_registered_with_masking() -> None:
    assert set(key_mask_prefixes()) <= registered_key_prefixes()
    assert "sk-ant-" in registered_key_prefixes()


@pytest.mark.parametrize(("provider_id", "label", "secret"), SHAPED_SECRETS)
def test_example_secret_has_a_registered_prefix_unless_it_has_no_shape(
    provider_id: str, label: str, secret: str
) -> None:
    assert own_prefix(provider_id, secret), (
        f"{provider_id} ({label}): add the key's prefix to the spec's mask_prefixes, or list the example in "
        "fakes.SHAPELESS_SECRETS if the key really has no recognisable shape"
    )


@pytest.mark.parametrize(("provider_id", "label", "secret"), SHAPED_SECRETS)
def test_example_secret_is_masked_wherever_it_appears_in_a_log_line(provider_id: str, label: str, secret: str) -> None:
    prefix = own_prefix(provider_id, secret)
    masked = mask_secrets(f"upstream said: invalid key {secret}, try again")
    assert leftover_pieces(secret, masked, public_prefix=prefix) == []
    logged = through_the_log_filter("provider answered %s", f"401 for {secret}")
    assert leftover_pieces(secret, logged, public_prefix=prefix) == []


@pytest.mark.parametrize(("provider_id", "label", "secret"), SECRETS)
def test_example_secret_is_masked_in_the_headers_it_is_sent_in(provider_id: str, label: str, secret: str) -> None:
    """Every secret, shape or not, is hidden in the credential headers it travels in."""
    request = get_adapter_class(provider_id)(example(provider_id, label)).validation_request()
    assert request is not None
    lines = [f"{name}: {value}" for name, value in request.headers.items() if secret in value]
    for line in lines:
        assert leftover_pieces(secret, mask_secrets(line)) == [], line.split(":")[0]
        assert leftover_pieces(secret, through_the_log_filter("sent %s", line)) == [], line.split(":")[0]


def test_the_masking_contract_could_fail() -> None:
    """An unregistered shape survives: the contract above is not vacuous."""
    secret = "nvapi-" + rand(ALNUM, 40)
    assert leftover_pieces(secret, mask_secrets(f"invalid key {secret}")) != []


# ---- the wrong-kind check derives from the registry ----------------------------------------------------


def signature_owners(value: str) -> set[str]:
    return {
        provider_id
        for provider_id, adapter_cls in REGISTRY.items()
        for signature in adapter_cls.spec.key_signatures
        if signature.pattern.match(value)
    }


ANTHROPIC_LOOKALIKE = "sk-ant-api03-" + rand(URLSAFE, 40) + "T3BlbkFJ" + rand(URLSAFE, 40) + "AA"
OPENROUTER_LOOKALIKE = "sk-or-v1-" + rand(HEX, 30) + "T3BlbkFJ" + rand(HEX, 30)


def example_values() -> list[str]:
    values: list[str] = []
    for _, cases in EXAMPLES.items():
        for _, credential in cases:
            values += [credential] if isinstance(credential, str) else list(credential.values())
    return values


@pytest.mark.parametrize("value", [*example_values(), ANTHROPIC_LOOKALIKE, OPENROUTER_LOOKALIKE])
def test_no_key_matches_the_signatures_of_two_providers(value: str) -> None:
    """So the order in which the wrong-kind check tries the registry's signatures does not matter."""
    assert len(signature_owners(value)) <= 1


def test_an_sk_ant_or_sk_or_key_is_never_openais_even_containing_its_marker() -> None:
    assert signature_owners(ANTHROPIC_LOOKALIKE) == {"anthropic"}
    assert signature_owners(OPENROUTER_LOOKALIKE) == {"openrouter"}


SIGNED_EXAMPLES = [
    pytest.param(provider_id, value, id=f"{provider_id}-{value[:10]}")
    for provider_id, cases in EXAMPLES.items()
    for _, credential in cases
    for value in ([credential] if isinstance(credential, str) else credential.values())
    if provider_id in signature_owners(value)
]


def test_every_provider_with_signatures_has_a_signed_example() -> None:
    with_signatures = {pid for pid, cls in REGISTRY.items() if cls.spec.key_signatures}
    assert {p.values[0] for p in SIGNED_EXAMPLES} == with_signatures


@pytest.mark.parametrize(("owner_id", "value"), SIGNED_EXAMPLES)
def test_a_signed_key_given_for_another_provider_is_refused_naming_its_provider(owner_id: str, value: str) -> None:
    chosen = "mistral" if owner_id != "mistral" else "cohere"
    with pytest.raises(CredentialFormatError) as excinfo:
        get_adapter_class(chosen).parse_credential(value)
    assert excinfo.value.code == "wrong_key_kind"
    signature = next(s for s in REGISTRY[owner_id].spec.key_signatures if s.pattern.match(value))
    assert signature.description in excinfo.value.message
    assert (signature.provider_name or REGISTRY[owner_id].spec.name) in excinfo.value.message
