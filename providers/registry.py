"""The one list of supported providers: an explicit dict from provider id to adapter class.

No autodiscovery: adding a provider is a reviewed one-line change here. The order is the order of the
provider reference table and is the order of ``GET /api/byok/providers``.
"""

from __future__ import annotations

from providers.adapters.anthropic import AnthropicAdapter
from providers.adapters.azure import AzureOpenAIAdapter
from providers.adapters.bedrock import BedrockAdapter
from providers.adapters.cloudflare import CloudflareAdapter
from providers.adapters.cohere import CohereAdapter
from providers.adapters.databricks import DatabricksAdapter
from providers.adapters.google import GoogleAdapter
from providers.adapters.inflection import InflectionAdapter
from providers.adapters.ollama import OllamaAdapter
from providers.adapters.openai_compat import (
    AI21Adapter,
    AnyscaleAdapter,
    DeepSeekAdapter,
    FireworksAdapter,
    GroqAdapter,
    HyperbolicAdapter,
    LeptonAdapter,
    MistralAdapter,
    NovitaAdapter,
    OctoAIAdapter,
    OpenAIAdapter,
    OpenRouterAdapter,
    PerplexityAdapter,
    SambaNovaAdapter,
    TogetherAdapter,
    XAIAdapter,
)
from providers.adapters.replicate import ReplicateAdapter
from providers.base import ProviderAdapter, register_key_signatures

REGISTRY: dict[str, type[ProviderAdapter]] = {
    "openai": OpenAIAdapter,
    "anthropic": AnthropicAdapter,
    "google": GoogleAdapter,
    "azure": AzureOpenAIAdapter,
    "bedrock": BedrockAdapter,
    "xai": XAIAdapter,
    "cohere": CohereAdapter,
    "mistral": MistralAdapter,
    "perplexity": PerplexityAdapter,
    "inflection": InflectionAdapter,
    "ai21": AI21Adapter,
    "deepseek": DeepSeekAdapter,
    "together": TogetherAdapter,
    "fireworks": FireworksAdapter,
    "groq": GroqAdapter,
    "replicate": ReplicateAdapter,
    "anyscale": AnyscaleAdapter,
    "hyperbolic": HyperbolicAdapter,
    "sambanova": SambaNovaAdapter,
    "lepton": LeptonAdapter,
    "octoai": OctoAIAdapter,
    "databricks": DatabricksAdapter,
    "cloudflare": CloudflareAdapter,
    "novita": NovitaAdapter,
    "openrouter": OpenRouterAdapter,
    "ollama": OllamaAdapter,
}

# The wrong-kind check refuses a key that plainly belongs to another registered provider.
register_key_signatures(adapter_cls.spec for adapter_cls in REGISTRY.values())


class UnknownProviderError(LookupError):
    def __init__(self, provider_id: object) -> None:
        shown = repr(provider_id)
        if len(shown) > 60:  # the id comes from the request; don't echo an arbitrarily long value
            shown = shown[:57] + "..."
        self.provider_id = provider_id
        super().__init__(f"Unknown provider {shown}. Valid providers: {', '.join(REGISTRY)}.")


def get_adapter_class(provider_id: str) -> type[ProviderAdapter]:
    adapter_cls = REGISTRY.get(provider_id) if isinstance(provider_id, str) else None
    if adapter_cls is None:
        raise UnknownProviderError(provider_id)
    return adapter_cls


def all_adapter_classes() -> list[type[ProviderAdapter]]:
    return list(REGISTRY.values())


def key_mask_prefixes() -> list[str]:
    """Every registered provider's key prefixes, for log masking (``providers.apps`` registers them)."""
    return sorted({prefix for adapter_cls in REGISTRY.values() for prefix in adapter_cls.spec.mask_prefixes})
