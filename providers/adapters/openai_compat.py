"""Providers that speak the OpenAI chat-completions API with a Bearer key.

Facts (base URLs, key formats, validation endpoints, status) are from the providers' own documentation.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import ClassVar

import requests

from providers import http, openai_format
from providers.base import (
    LOOSE_KEY_PATTERN,
    WRONG_KEY_KIND,
    AuthStyle,
    ConfigField,
    CredentialFormatError,
    FieldKind,
    KeySignature,
    ProviderSpec,
    ProviderStatus,
)
from providers.chat import ChatRequest
from providers.http import OutboundRequest
from providers.verdict import KeyStatus, Verdict, out_of_credit, refused


class OpenAICompatibleAdapter(openai_format.OpenAIWireChat):
    """``POST {base}/chat/completions`` with ``Authorization: Bearer``.

    ``validation_path`` is the cheapest ``GET`` that proves a key (relative to the base URL); ``None``
    means only a billed 1-token chat call can (see ``spec.validation_billed``).
    """

    chat_path: ClassVar[str] = "/chat/completions"
    validation_path: ClassVar[str | None] = "/models"
    # Model for a 1-token chat when only a billed call can prove a key (BYOK_ALLOW_BILLED_VALIDATION).
    billed_validation_model: ClassVar[str | None] = None

    def chat_http_request(self, request: ChatRequest, *, stream: bool = False) -> OutboundRequest:
        return self.build_request("POST", self.chat_path, json=openai_format.request_body(request, stream=stream))

    def validation_request(self) -> OutboundRequest | None:
        if self.validation_path is not None:
            return self.build_request("GET", self.validation_path)
        if self.billed_validation_model is None:
            return None
        return self.build_request(
            "POST",
            self.chat_path,
            json={
                "model": self.billed_validation_model,
                "messages": [{"role": "user", "content": "ping"}],
                "max_tokens": 1,
            },
        )


class OpenAIAdapter(OpenAICompatibleAdapter):
    spec = ProviderSpec(
        id="openai",
        name="OpenAI",
        base_url="https://api.openai.com/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://platform.openai.com/docs/api-reference",
        # Project keys are ~164 chars and the length is not fixed: prefix + charset + minimum only.
        key_pattern=r"^sk-(?:proj-|svcacct-|service-|None-)?[A-Za-z0-9_-]{20,}$",
        key_hint="OpenAI keys start with sk- (project keys with sk-proj-); create one at "
        "https://platform.openai.com/api-keys.",
        env_var="OPENAI_API_KEY",
        key_signatures=(
            KeySignature(
                "an OpenAI key (sk-proj-…, sk-svcacct-… or containing T3BlbkFJ)",
                # Not sk-ant- / sk-or-: those are Anthropic's and OpenRouter's even when they contain T3BlbkFJ.
                re.compile(r"sk-(?!ant-|or-)(?:(?:proj|svcacct|service|admin|None)-|[A-Za-z0-9_-]*T3BlbkFJ)"),
            ),
        ),
        mask_prefixes=("sk-proj-", "sk-svcacct-", "sk-admin-", "sk-"),
        example_models=("gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"),
    )

    @classmethod
    def check_key_kind(cls, key: str, *, field: str | None = None) -> None:
        if key.startswith("sk-admin-"):
            raise CredentialFormatError(
                "This is an OpenAI admin key (sk-admin-…). Admin keys only work for the "
                "/v1/organization administration endpoints, not for chat. Create a project API key "
                "(sk-proj-…) at https://platform.openai.com/api-keys.",
                code=WRONG_KEY_KIND,
                field=field,
            )
        super().check_key_kind(key, field=field)

    def read_answer(self, response: requests.Response) -> Verdict:
        verdict = super().read_answer(response)
        text = response.text
        if response.status_code == 401 and ("Missing scopes" in text or "insufficient permissions" in text):
            # A restricted project key without a scope: valid, just not allowed this call (still a 401 to chat).
            return replace(
                verdict,
                key_status=KeyStatus.RESTRICTED,
                reason="The key is valid but restricted: it lacks the scope to list models (Missing scopes). "
                "Chat works if the key has the model.request scope.",
            )
        if response.status_code == 403 and "Country, region, or territory not supported" in text:
            # This server's location is refused, not the key.
            return replace(
                verdict,
                key_status=None,
                reason="OpenAI refused the request from this server's country or region, so the key could not "
                "be checked.",
            )
        return verdict


class XAIAdapter(OpenAICompatibleAdapter):
    validation_path = "/api-key"
    spec = ProviderSpec(
        id="xai",
        name="xAI (Grok)",
        base_url="https://api.x.ai/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.x.ai/docs/api-reference",
        key_pattern=r"^xai-[A-Za-z0-9_-]{20,}$",
        key_hint="xAI keys start with xai- (usually followed by 80 letters and digits).",
        env_var="XAI_API_KEY",
        key_signatures=(KeySignature("an xAI key (xai-…)", re.compile(r"xai-"), "xAI"),),
        mask_prefixes=("xai-",),
        example_models=("grok-4", "grok-3-mini"),
    )

    def read_answer(self, response: requests.Response) -> Verdict:
        if response.status_code == 400 and http.answers_path(response, "/api-key"):
            # The key-info endpoint takes nothing but the key; from chat, a 400 is the request's fault.
            return refused(
                KeyStatus.INVALID,
                "xAI rejected the key as invalid (400). Create a new key at https://console.x.ai.",
                http_status=400,
            )
        if response.status_code == 200:
            data = http.json_or_empty(response)
            data = data if isinstance(data, dict) else {}
            flags = [name for name in ("api_key_blocked", "api_key_disabled", "team_blocked") if data.get(name)]
            if flags:
                return refused(
                    KeyStatus.INVALID, f"xAI reports this key as unusable ({', '.join(flags)}).", http_status=200
                )
        return super().read_answer(response)


class MistralAdapter(OpenAICompatibleAdapter):
    spec = ProviderSpec(
        id="mistral",
        name="Mistral AI",
        base_url="https://api.mistral.ai/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.mistral.ai/api/",
        # Observed 32 alphanumerics, low confidence: accept any length from 20 and _/- too.
        key_pattern=r"^[A-Za-z0-9_-]{20,}$",
        key_hint="Mistral keys have no prefix (usually 32 letters and digits).",
        env_var="MISTRAL_API_KEY",
        example_models=("mistral-small-latest", "mistral-large-latest", "open-mistral-nemo"),
    )


class PerplexityAdapter(OpenAICompatibleAdapter):
    # /v1/models is declared unauthenticated, so only a billed 1-token chat proves a key.
    validation_path = None
    billed_validation_model = "sonar"
    spec = ProviderSpec(
        id="perplexity",
        name="Perplexity",
        base_url="https://api.perplexity.ai",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.perplexity.ai/",
        key_pattern=r"^pplx-[A-Za-z0-9]{32,}$",
        key_hint="Perplexity keys start with pplx- (usually followed by 48 letters and digits).",
        env_var="PERPLEXITY_API_KEY",
        key_signatures=(KeySignature("a Perplexity key (pplx-…)", re.compile(r"pplx-")),),
        mask_prefixes=("pplx-",),
        validation_billed=True,
        example_models=("sonar", "sonar-pro"),
    )

    def read_answer(self, response: requests.Response) -> Verdict:
        verdict = super().read_answer(response)
        if response.status_code in (401, 403):
            # Validation is a chat call too, so this holds for chat: a 403 is a bad key, not a missing scope.
            return replace(
                verdict,
                key_status=KeyStatus.INVALID,
                reason=f"Perplexity rejected the key ({response.status_code}).",
            )
        return verdict


class AI21Adapter(OpenAICompatibleAdapter):
    # /models answers 200 without a key, so it proves nothing.
    validation_path = "/library/files"
    spec = ProviderSpec(
        id="ai21",
        name="AI21 Labs",
        base_url="https://api.ai21.com/studio/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.ai21.com/reference",
        key_pattern=r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$",
        key_hint="AI21 keys look like a UUID: 8-4-4-4-12 hexadecimal characters.",
        env_var="AI21_API_KEY",
        example_models=("jamba-mini", "jamba-large"),
    )


class DeepSeekAdapter(OpenAICompatibleAdapter):
    validation_path = "/user/balance"
    spec = ProviderSpec(
        id="deepseek",
        name="DeepSeek",
        base_url="https://api.deepseek.com",
        auth_style=AuthStyle.BEARER,
        docs_url="https://api-docs.deepseek.com/",
        key_pattern=r"^sk-[0-9a-f]{32,}$",
        key_hint="DeepSeek keys start with sk- followed by 32 lowercase hexadecimal characters.",
        env_var="DEEPSEEK_API_KEY",
        # Exact shape only: "sk-" alone is shared by several providers.
        key_signatures=(KeySignature("a DeepSeek key (sk- + 32 hex)", re.compile(r"sk-[0-9a-f]{32}$")),),
        mask_prefixes=("sk-",),
        example_models=("deepseek-chat", "deepseek-reasoner"),
    )

    def read_answer(self, response: requests.Response) -> Verdict:
        if response.status_code == 200:
            data = http.json_or_empty(response)
            if isinstance(data, dict) and data.get("is_available") is False:
                return out_of_credit("The key is valid but the DeepSeek balance is empty.", http_status=200)
        return super().read_answer(response)


class TogetherAdapter(OpenAICompatibleAdapter):
    spec = ProviderSpec(
        id="together",
        name="Together AI",
        base_url="https://api.together.xyz/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.together.ai/reference",
        # Current keys: tgp_v1_…; older keys have no prefix and no documented shape.
        key_pattern=r"^(?:tgp_v1_[A-Za-z0-9_-]{30,}|(?!tgp_)[A-Za-z0-9_-]{32,})$",
        key_hint="Together AI keys start with tgp_v1_ (older keys have no prefix).",
        env_var="TOGETHER_API_KEY",
        key_signatures=(KeySignature("a Together AI key (tgp_v1_…)", re.compile(r"tgp_v1_")),),
        mask_prefixes=("tgp_v1_",),
        example_models=(
            "meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo",
            "meta-llama/Llama-3.3-70B-Instruct-Turbo",
        ),
    )


class FireworksAdapter(OpenAICompatibleAdapter):
    spec = ProviderSpec(
        id="fireworks",
        name="Fireworks AI",
        base_url="https://api.fireworks.ai/inference/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.fireworks.ai/api-reference/introduction",
        # Length and alphabet are undocumented: prefix + a loose minimum.
        key_pattern=r"^fw_[A-Za-z0-9_-]{16,}$",
        key_hint="Fireworks AI keys start with fw_.",
        env_var="FIREWORKS_API_KEY",
        key_signatures=(KeySignature("a Fireworks AI key (fw_…)", re.compile(r"fw_")),),
        mask_prefixes=("fw_",),
        example_models=(
            "accounts/fireworks/models/llama-v3p1-8b-instruct",
            "accounts/fireworks/models/llama-v3p3-70b-instruct",
        ),
    )


class GroqAdapter(OpenAICompatibleAdapter):
    spec = ProviderSpec(
        id="groq",
        name="Groq",
        base_url="https://api.groq.com/openai/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://console.groq.com/docs/api-reference",
        # Scanners disagree on 52 vs 48 characters: accept 48-56.
        key_pattern=r"^gsk_[A-Za-z0-9]{48,56}$",
        key_hint="Groq keys start with gsk_ followed by about 52 letters and digits.",
        env_var="GROQ_API_KEY",
        key_signatures=(KeySignature("a Groq key (gsk_…)", re.compile(r"gsk_")),),
        mask_prefixes=("gsk_",),
        example_models=("llama-3.1-8b-instant", "llama-3.3-70b-versatile"),
    )


class AnyscaleAdapter(OpenAICompatibleAdapter):
    spec = ProviderSpec(
        id="anyscale",
        name="Anyscale Endpoints",
        base_url="https://api.endpoints.anyscale.com/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.anyscale.com/endpoints/text-generation/query-a-model",
        key_pattern=r"^esecret_[A-Za-z0-9_-]{16,}$",
        key_hint="Anyscale Endpoints keys started with esecret_.",
        env_var="ANYSCALE_API_KEY",
        key_signatures=(KeySignature("an Anyscale Endpoints key (esecret_…)", re.compile(r"esecret_"), "Anyscale"),),
        mask_prefixes=("esecret_",),
        status=ProviderStatus.DISCONTINUED,
        status_date="2024-08-01",
        status_note="the shared (multi-tenant) Anyscale Endpoints API was removed; models are only "
        "served through the hosted Anyscale Platform.",
        example_models=("meta-llama/Meta-Llama-3-8B-Instruct",),
    )


class HyperbolicAdapter(OpenAICompatibleAdapter):
    spec = ProviderSpec(
        id="hyperbolic",
        name="Hyperbolic",
        base_url="https://api.hyperbolic.xyz/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.hyperbolic.xyz/",
        key_pattern=None,  # none known
        key_hint="Paste the API key from your Hyperbolic settings page.",
        env_var="HYPERBOLIC_API_KEY",
        example_models=("meta-llama/Meta-Llama-3.1-8B-Instruct", "meta-llama/Llama-3.3-70B-Instruct"),
    )


class SambaNovaAdapter(OpenAICompatibleAdapter):
    spec = ProviderSpec(
        id="sambanova",
        name="SambaNova Cloud",
        base_url="https://api.sambanova.ai/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.sambanova.ai/cloud/api-reference",
        key_pattern=None,  # none known
        key_hint="Paste the API key from the SambaNova Cloud portal.",
        env_var="SAMBANOVA_API_KEY",
        example_models=("Meta-Llama-3.1-8B-Instruct", "Meta-Llama-3.3-70B-Instruct"),
    )


class LeptonAdapter(OpenAICompatibleAdapter):
    """Legacy: modelled as a custom OpenAI-compatible endpoint (base_url + token).

    The shared ``{model}.lepton.run`` hosts may be gone; DGX Cloud Lepton serves per-workspace
    endpoints, so the URL is the user's.
    """

    spec = ProviderSpec(
        id="lepton",
        name="Lepton AI",
        base_url="https://{model}.lepton.run/api/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://docs.nvidia.com/dgx-cloud/lepton/",
        key_pattern=None,  # none known; the api_token field has a loose sanity check
        key_hint="Paste the endpoint token for your Lepton endpoint.",
        env_var="LEPTON_API_TOKEN",
        config_fields=(
            ConfigField(
                name="base_url",
                label="Endpoint URL",
                kind=FieldKind.URL,
                hint="The https:// OpenAI-compatible base URL of your endpoint, e.g. "
                "https://llama3-1-8b.lepton.run/api/v1.",
            ),
            ConfigField(
                name="api_token",
                label="API token",
                kind=FieldKind.SECRET,
                pattern=LOOSE_KEY_PATTERN,
                hint="The endpoint token (16 or more characters, no spaces).",
            ),
        ),
        secret_field="api_token",
        env_config=(("base_url", "LEPTON_BASE_URL"), ("api_token", "LEPTON_API_TOKEN")),
        status=ProviderStatus.LEGACY,
        status_date="2025-04-08",
        status_note="Lepton AI was acquired by NVIDIA (April 2025) and is now NVIDIA DGX Cloud Lepton; "
        "the shared *.lepton.run endpoints may no longer work.",
        extra={"base_url_field": "base_url"},
        example_models=("llama3-1-8b",),
    )


class OctoAIAdapter(OpenAICompatibleAdapter):
    spec = ProviderSpec(
        id="octoai",
        name="OctoAI",
        base_url="https://text.octoai.run/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://octo.ai/docs/",
        key_pattern=None,  # none known
        key_hint="Paste the OctoAI API token.",
        env_var="OCTOAI_TOKEN",
        status=ProviderStatus.DISCONTINUED,
        status_date="2024-10-31",
        status_note="OctoAI shut its API down permanently after NVIDIA acquired it.",
        example_models=("meta-llama-3.1-8b-instruct",),
    )


class NovitaAdapter(OpenAICompatibleAdapter):
    spec = ProviderSpec(
        id="novita",
        name="Novita AI",
        # Older docs and many clients use https://api.novita.ai/v3/openai.
        base_url="https://api.novita.ai/openai/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://novita.ai/docs/guides/llm-api",
        key_pattern=r"^sk_[A-Za-z0-9_-]{16,}$",
        key_hint="Novita AI keys start with sk_ (underscore).",
        env_var="NOVITA_API_KEY",
        # sk_ is Novita's, but too short a prefix to refuse a key for another provider by.
        mask_prefixes=("sk_",),
        example_models=("meta-llama/llama-3.1-8b-instruct", "deepseek/deepseek-v3-0324"),
    )

    def read_answer(self, response: requests.Response) -> Verdict:
        verdict = super().read_answer(response)
        if response.status_code == 403 and "NOT_ENOUGH_BALANCE" in response.text:
            # Still a refusal to chat (upstream_auth_failed); the key itself is fine.
            return replace(
                verdict, key_status=KeyStatus.NO_CREDIT, reason="The key is valid but the Novita balance is empty."
            )
        return verdict


class OpenRouterAdapter(OpenAICompatibleAdapter):
    validation_path = "/key"
    spec = ProviderSpec(
        id="openrouter",
        name="OpenRouter",
        base_url="https://openrouter.ai/api/v1",
        auth_style=AuthStyle.BEARER,
        docs_url="https://openrouter.ai/docs/api-reference/overview",
        key_pattern=r"^sk-or-v\d+-[0-9a-f]{32,}$",
        key_hint="OpenRouter keys start with sk-or-v1- followed by 64 lowercase hexadecimal characters.",
        env_var="OPENROUTER_API_KEY",
        key_signatures=(KeySignature("an OpenRouter key (sk-or-…)", re.compile(r"sk-or-")),),
        mask_prefixes=("sk-or-v1-",),
        example_models=(
            "openai/gpt-4o-mini",
            "anthropic/claude-sonnet-4.5",
            "meta-llama/llama-3.1-8b-instruct",
        ),
    )

    def read_answer(self, response: requests.Response) -> Verdict:
        verdict = super().read_answer(response)
        if response.status_code == 403:
            # A per-key budget limit: the key itself is valid (still a refusal to chat).
            return replace(
                verdict,
                key_status=KeyStatus.NO_CREDIT,
                reason="The key is valid but has reached its OpenRouter credit or budget limit.",
            )
        return verdict
