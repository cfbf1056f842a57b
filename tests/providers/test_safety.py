"""Safety rules of the provider adapters (``providers/``): an echoed key is redacted from provider
messages even in short pieces, tunnelled IPv6 addresses are refused as destinations, and a URL with
non-ASCII letters is not mistaken for a key."""

from __future__ import annotations

import pytest

from providers import ssrf
from providers.registry import get_adapter_class
from tests.factories import MISTRAL_KEY


@pytest.mark.parametrize(
    "echo",
    [
        "key 'Zx9Zx9Zx9Zx9Zx...' is invalid",
        "Invalid (apikey=Zx9Zx9Zx9Zx9Zx)",
        "bad key: Zx9Zx9Zx9.",
        "token=...9Zx9Zx9Zx9Zx9",
    ],
)
def test_short_pieces_of_a_key_glued_to_punctuation_are_redacted(echo: str) -> None:
    adapter = get_adapter_class("mistral")(MISTRAL_KEY)
    assert "Zx9Zx9Zx9" not in adapter.redact(echo)


def test_redaction_leaves_model_names_and_key_ids_alone() -> None:
    adapter = get_adapter_class("mistral")(MISTRAL_KEY)
    text = (
        "The model `meta-llama/llama-4-maverick-17b-128e-instruct` does not exist (byok_user_openai_5134bd835dc28162)"
    )
    assert adapter.redact(text) == text


@pytest.mark.parametrize(
    "address",
    ["2002:7f00:1::1", "2002:a9fe:a9fe::1", "2001:0:4136:e378:8000:63bf:80ff:fffe", "fc00::1", "::ffff:10.0.0.1"],
)
def test_tunnelled_and_unique_local_ipv6_addresses_are_refused(address: str) -> None:
    assert ssrf.address_problem(address) is not None


def test_non_ascii_urls_are_not_refused_as_keys() -> None:
    parsed = get_adapter_class("ollama").parse_credential({"base_url": "https://bücher.example/"})
    assert parsed == {"base_url": "https://bücher.example"}
