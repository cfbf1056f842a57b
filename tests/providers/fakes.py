"""Shared fakes for the provider tests: realistic example credentials for every registered provider.

Test modules import from here, never from each other. The keys are fake (never valid anywhere) but
real-shaped, and the same on every run (fixed seed).
"""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

from providers.base import FieldKind, ProviderAdapter
from providers.registry import REGISTRY, get_adapter_class

_rng = random.Random(20260827)  # fixed seed: the same fake keys on every run

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
B64 = ALNUM + "+/"
HEX = "0123456789abcdef"
UPPER_ALNUM = string.ascii_uppercase + string.digits


def rand(alphabet: str, n: int) -> str:
    return "".join(_rng.choice(alphabet) for _ in range(n))


def fake_jwt() -> str:
    return "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + rand(URLSAFE, 60) + "." + rand(URLSAFE, 43)


# Realistic fake credentials: (label, credential) per provider. Every registered provider has some.
OPENAI_PROJECT_KEY = "sk-proj-" + rand(URLSAFE, 74) + "T3BlbkFJ" + rand(URLSAFE, 74)
ANTHROPIC_KEY = "sk-ant-api03-" + rand(URLSAFE, 93) + "AA"
GROQ_KEY = "gsk_" + rand(ALNUM, 52)
OPENROUTER_KEY = "sk-or-v1-" + rand(HEX, 64)
DEEPSEEK_KEY = "sk-" + rand(HEX, 32)
GOOGLE_LEGACY_KEY = "AIzaSy" + rand(URLSAFE, 33)
AWS_SECRET = rand(B64, 40)
BEDROCK_LONG_TERM_KEY = "ABSK" + rand(B64, 140) + "="
CLOUDFLARE_LEGACY_TOKEN = rand(URLSAFE, 40)
AZURE_ENDPOINT = "https://my-resource.openai.azure.com"

EXAMPLES: dict[str, list[tuple[str, Any]]] = {
    "openai": [
        ("project key", OPENAI_PROJECT_KEY),
        ("legacy user key", "sk-" + rand(ALNUM, 20) + "T3BlbkFJ" + rand(ALNUM, 20)),
        ("service account key", "sk-svcacct-" + rand(URLSAFE, 74) + "T3BlbkFJ" + rand(URLSAFE, 74)),
        ("org key without project", "sk-None-" + rand(URLSAFE, 74) + "T3BlbkFJ" + rand(URLSAFE, 74)),
    ],
    "anthropic": [("api03 key", ANTHROPIC_KEY)],
    "google": [
        ("legacy standard key", GOOGLE_LEGACY_KEY),
        ("auth key", "AQ.Ab8RN6I5RF" + rand(URLSAFE, 60)),
        ("auth key (IQ.)", "IQ." + rand(URLSAFE, 50)),
    ],
    "azure": [
        (
            "legacy 32-hex key",
            {
                "endpoint_url": AZURE_ENDPOINT,
                "api_key": rand(HEX, 32),
                "deployment_id": "gpt-4o-mini",
                "api_version": "2024-10-21",
            },
        ),
        (
            "84-char key, v1 API",
            {
                "endpoint_url": "https://my-foundry.cognitiveservices.azure.com/",
                "api_key": rand(ALNUM, 76) + "JQQJ99BA",
                "deployment_id": "prod.gpt-4o_2",
            },
        ),
    ],
    "bedrock": [
        (
            "IAM long-term",
            {
                "access_key_id": "AKIA" + rand(UPPER_ALNUM, 16),
                "secret_access_key": AWS_SECRET,
                "region": "us-east-1",
            },
        ),
        (
            "IAM temporary",
            {
                "access_key_id": "ASIA" + rand(UPPER_ALNUM, 16),
                "secret_access_key": rand(B64, 40),
                "session_token": "IQoJb3JpZ2luX2VjE" + rand(B64, 300) + "==",
                "region": "eu-central-1",
            },
        ),
        ("long-term API key", {"bedrock_api_key": BEDROCK_LONG_TERM_KEY, "region": "us-west-2"}),
        (
            "short-term API key",
            {"bedrock_api_key": "bedrock-api-key-" + rand(B64, 600) + "=", "region": "ap-southeast-2"},
        ),
        ("GovCloud region", {"bedrock_api_key": BEDROCK_LONG_TERM_KEY, "region": "us-gov-west-1"}),
    ],
    "xai": [("key", "xai-" + rand(ALNUM + "_", 80))],
    "cohere": [("key", rand(ALNUM, 40))],
    "mistral": [("key", rand(ALNUM, 32))],
    "perplexity": [("key", "pplx-" + rand(ALNUM, 48))],
    "inflection": [("key", rand(ALNUM, 40))],
    "ai21": [("uuid key", str(uuid.UUID(int=_rng.getrandbits(128), version=4)))],
    "deepseek": [("key", DEEPSEEK_KEY)],
    "together": [("tgp_v1 key", "tgp_v1_" + rand(URLSAFE, 43)), ("older unprefixed key", rand(HEX, 64))],
    "fireworks": [("key", "fw_" + rand(ALNUM, 24))],
    "groq": [
        ("52 chars", GROQ_KEY),
        ("48 chars", "gsk_" + rand(ALNUM, 48)),
        ("56 chars", "gsk_" + rand(ALNUM, 56)),
    ],
    "replicate": [("token", "r8_" + rand(URLSAFE, 37))],
    "anyscale": [("key", "esecret_" + rand(ALNUM, 26))],
    "hyperbolic": [("jwt-like key", fake_jwt())],
    "sambanova": [("uuid-like key", str(uuid.UUID(int=_rng.getrandbits(128), version=4)))],
    "lepton": [
        (
            "legacy endpoint",
            {"base_url": "https://llama3-1-8b.lepton.run/api/v1", "api_token": rand(ALNUM, 32)},
        )
    ],
    "octoai": [("jwt-like token", fake_jwt())],
    "databricks": [
        (
            "PAT on AWS",
            {
                "workspace_url": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com",
                "api_token": "dapi" + rand(HEX, 32),
            },
        ),
        (
            "PAT with suffix on Azure",
            {
                "workspace_url": "https://adb-1234567890123456.7.azuredatabricks.net",
                "api_token": "dapi" + rand(HEX, 32) + "-3",
            },
        ),
        (
            "OAuth token",
            {"workspace_url": "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com", "api_token": fake_jwt()},
        ),
    ],
    "cloudflare": [
        ("legacy token", {"account_id": rand(HEX, 32), "api_token": CLOUDFLARE_LEGACY_TOKEN}),
        ("user token", {"account_id": rand(HEX, 32), "api_token": "cfut_" + rand(ALNUM, 40) + rand(HEX, 8)}),
        (
            "account token",
            {"account_id": rand(HEX, 32), "api_token": "cfat_" + rand(ALNUM, 40) + rand(HEX, 8)},
        ),
    ],
    "novita": [("key", "sk_" + rand(URLSAFE, 43))],
    "openrouter": [("key", OPENROUTER_KEY)],
    "ollama": [
        ("local server", {"base_url": "http://localhost:11434"}),
        (
            "ollama cloud",
            {"base_url": "https://ollama.com", "api_key": rand(HEX, 32) + "." + rand(ALNUM, 24)},
        ),
    ],
}


def example(provider_id: str, label: str) -> Any:
    """The example credential of ``provider_id`` named ``label``."""
    return dict(EXAMPLES[provider_id])[label]


def key_of(provider_id: str, label: str = "key") -> str:
    value = example(provider_id, label)
    assert isinstance(value, str)
    return value


def cfg(provider_id: str, label: str) -> dict[str, str]:
    value = example(provider_id, label)
    assert isinstance(value, dict)
    return value


def adapter_for(provider_id: str, label: str) -> ProviderAdapter:
    """An adapter as the gateway makes one: for the stored (parsed) example credential."""
    cls = get_adapter_class(provider_id)
    return cls(cls.parse_credential(example(provider_id, label)))


def secrets_of(provider_id: str, credential: Any) -> list[str]:
    """Every secret value in a credential (string keys, and the SECRET-kind config fields)."""
    if isinstance(credential, str):
        return [credential]
    secret_fields = {f.name for f in REGISTRY[provider_id].spec.config_fields if f.kind is FieldKind.SECRET}
    return [value for name, value in credential.items() if name in secret_fields and value]


# Named examples used across the test modules.
OPENAI = key_of("openai", "project key")
ANTHROPIC = key_of("anthropic", "api03 key")
GOOGLE = key_of("google", "auth key")
AZURE = cfg("azure", "legacy 32-hex key")  # api_version 2024-10-21, deployment gpt-4o-mini
AZURE_V1 = cfg("azure", "84-char key, v1 API")  # no api_version, deployment prod.gpt-4o_2
BEDROCK_IAM = cfg("bedrock", "IAM long-term")  # us-east-1
BEDROCK_IAM_TEMP = cfg("bedrock", "IAM temporary")  # eu-central-1
BEDROCK_API_KEY = cfg("bedrock", "long-term API key")  # us-west-2
XAI = key_of("xai")
COHERE = key_of("cohere")
MISTRAL = key_of("mistral")
PERPLEXITY = key_of("perplexity")
INFLECTION = key_of("inflection")
AI21 = key_of("ai21", "uuid key")
DEEPSEEK = key_of("deepseek")
TOGETHER = key_of("together", "tgp_v1 key")
FIREWORKS = key_of("fireworks")
GROQ = key_of("groq", "52 chars")
REPLICATE = key_of("replicate", "token")
HYPERBOLIC = key_of("hyperbolic", "jwt-like key")
SAMBANOVA = key_of("sambanova", "uuid-like key")
LEPTON = cfg("lepton", "legacy endpoint")
DATABRICKS = cfg("databricks", "PAT on AWS")
CLOUDFLARE_USER = cfg("cloudflare", "user token")
CLOUDFLARE_ACCOUNT = cfg("cloudflare", "account token")
CLOUDFLARE_LEGACY = cfg("cloudflare", "legacy token")
NOVITA = key_of("novita")
OPENROUTER = key_of("openrouter")
OLLAMA_LOCAL = cfg("ollama", "local server")
OLLAMA_CLOUD = cfg("ollama", "ollama cloud")

# Example secrets with no recognisable shape (no prefix): log masking can only hide them after a credential
# header name or "Bearer" (and ``ProviderAdapter.redact`` removes them from provider text). Every other
# example secret must be masked wherever it appears, so its provider declares its prefix in
# ``ProviderSpec.mask_prefixes`` (tests/providers/test_key_shapes.py).
SHAPELESS_SECRETS = frozenset(
    {
        cfg("azure", "legacy 32-hex key")["api_key"],
        cfg("azure", "84-char key, v1 API")["api_key"],
        cfg("bedrock", "IAM long-term")["secret_access_key"],
        cfg("bedrock", "IAM temporary")["secret_access_key"],
        cfg("bedrock", "IAM temporary")["session_token"],
        key_of("cohere"),
        key_of("mistral"),
        key_of("inflection"),
        key_of("ai21", "uuid key"),
        key_of("together", "older unprefixed key"),
        key_of("hyperbolic", "jwt-like key"),
        key_of("sambanova", "uuid-like key"),
        cfg("lepton", "legacy endpoint")["api_token"],
        key_of("octoai", "jwt-like token"),
        cfg("databricks", "OAuth token")["api_token"],
        cfg("cloudflare", "legacy token")["api_token"],
        cfg("ollama", "ollama cloud")["api_key"],
    }
)
