"""What every adapter here shares: refusing a key that plainly belongs to another provider.

Prefix routing is ambiguous (several providers use ``sk-``, several use no prefix at all), so the
provider the user chose always wins. A signature below only names a key when its shape is
unmistakable, so a key that really belongs to the chosen provider is never refused by it; it exists
to turn "this does not look like an OpenAI key" into "this is an Anthropic key, choose Anthropic".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from providers.base import (
    ConfigField,
    CredentialFormatError,
    FieldKind,
    ProviderAdapter,
    clean_key_string,
    looks_masked,
)

WRONG_KEY_KIND = "wrong_key_kind"


@dataclass(frozen=True)
class KeySignature:
    provider_id: str
    # Completes "This looks like ..." and "choose ... as the provider".
    description: str
    provider_name: str
    pattern: re.Pattern[str]


# Order matters: the more specific ``sk-`` families come before OpenAI's.
KEY_SIGNATURES: tuple[KeySignature, ...] = (
    KeySignature("anthropic", "an Anthropic key (sk-ant-…)", "Anthropic", re.compile(r"sk-ant-")),
    KeySignature("openrouter", "an OpenRouter key (sk-or-…)", "OpenRouter", re.compile(r"sk-or-")),
    KeySignature(
        "openai",
        "an OpenAI key (sk-proj-…, sk-svcacct-… or containing T3BlbkFJ)",
        "OpenAI",
        re.compile(r"sk-(?:proj|svcacct|service|admin|None)-|sk-[A-Za-z0-9_-]*T3BlbkFJ"),
    ),
    # Exact shape only: "sk-" alone is shared by several providers.
    KeySignature("deepseek", "a DeepSeek key (sk- + 32 hex)", "DeepSeek", re.compile(r"sk-[0-9a-f]{32}$")),
    KeySignature("google", "a Gemini API key (AIza…)", "Google AI", re.compile(r"AIza[0-9A-Za-z_-]{35}$")),
    KeySignature("google", "a Gemini API key (AQ.…)", "Google AI", re.compile(r"AQ\.[A-Za-z0-9_.-]{20,}$")),
    KeySignature("xai", "an xAI key (xai-…)", "xAI", re.compile(r"xai-")),
    KeySignature("perplexity", "a Perplexity key (pplx-…)", "Perplexity", re.compile(r"pplx-")),
    KeySignature("groq", "a Groq key (gsk_…)", "Groq", re.compile(r"gsk_")),
    KeySignature("replicate", "a Replicate token (r8_…)", "Replicate", re.compile(r"r8_")),
    KeySignature("together", "a Together AI key (tgp_v1_…)", "Together AI", re.compile(r"tgp_v1_")),
    KeySignature("fireworks", "a Fireworks AI key (fw_…)", "Fireworks AI", re.compile(r"fw_")),
    KeySignature("anyscale", "an Anyscale Endpoints key (esecret_…)", "Anyscale", re.compile(r"esecret_")),
    KeySignature(
        "databricks",
        "a Databricks personal access token (dapi…)",
        "Databricks",
        re.compile(r"dapi[0-9a-f]{32}(?:-\d+)?$"),
    ),
    KeySignature("cloudflare", "a Cloudflare API token (cfut_…/cfat_…)", "Cloudflare", re.compile(r"cf[ua]t_")),
    KeySignature(
        "bedrock",
        "an AWS access key ID (AKIA…/ASIA…)",
        "AWS Bedrock (with its secret access key)",
        re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}$"),
    ),
    KeySignature(
        "bedrock",
        "an Amazon Bedrock API key (ABSK…/bedrock-api-key-…)",
        "AWS Bedrock",
        re.compile(r"ABSK[A-Za-z0-9+/]{100,}|bedrock-api-key-"),
    ),
)


def foreign_signature(key: str, *, provider_id: str) -> KeySignature | None:
    """The signature of another provider that ``key`` unmistakably matches, if any."""
    for signature in KEY_SIGNATURES:
        if signature.pattern.match(key):
            return None if signature.provider_id == provider_id else signature
    return None


class BaseAdapter(ProviderAdapter):
    """``ProviderAdapter`` plus wrong-kind checks (``code="wrong_key_kind"``) before the format check."""

    @classmethod
    def check_key(cls, key: str) -> str:
        if not looks_masked(key):
            cls.check_key_kind(key)
        return super().check_key(key)

    @classmethod
    def check_field(cls, spec_field: ConfigField, value: object) -> str:
        try:
            if spec_field.kind is FieldKind.SECRET:
                cleaned = clean_key_string(value, what=f"'{spec_field.name}'")
                if not looks_masked(cleaned):
                    cls.check_key_kind(cleaned, field=spec_field.name)
            return super().check_field(spec_field, value)
        except CredentialFormatError as error:
            # clean_key_string() does not know the field; the API reports errors per field.
            if error.field is None:
                error.field = spec_field.name
            raise

    @classmethod
    def check_key_kind(cls, key: str, *, field: str | None = None) -> None:
        """Refuse a credential that is the wrong kind; subclasses add their own kinds first."""
        signature = foreign_signature(key, provider_id=cls.spec.id)
        if signature is not None:
            raise CredentialFormatError(
                f"This looks like {signature.description}, not a key for {cls.spec.name}. "
                f"If it is, choose {signature.provider_name} as the provider; otherwise paste your "
                f"{cls.spec.name} key. {cls.spec.key_hint}".strip(),
                code=WRONG_KEY_KIND,
                field=field,
            )
