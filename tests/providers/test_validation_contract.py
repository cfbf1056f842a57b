"""Live validation contract, one suite parametrised over the whole registry.

For every provider that can still be validated (the discontinued ones are filtered out of the
parameters) and a realistic credential, each of the answers of the cross-provider rule in
``shared/providers.md`` is mocked with ``responses``:

- valid: 2xx with a realistic body -> valid
- invalid: the provider's own bad-key answer -> invalid
- rate limited: 429 -> unverified, ``retry_after`` read from ``Retry-After``
- timeout: -> unverified
- server error: 5xx -> unverified

and every case asserts the exact method, URL, auth headers and body sent, that no secret is in the
URL, in the captured logs (DEBUG) or in the result's reason.

The billed providers (Perplexity, Inflection) run with ``BYOK_ALLOW_BILLED_VALIDATION=True``; without
it they must send nothing (``test_billed_provider_sends_nothing_without_opt_in``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from pytest_django.fixtures import Settings as SettingsWrapper
from responses import matchers

from common.masking import mask_secrets
from providers.base import ProviderAdapter, ProviderStatus
from providers.registry import REGISTRY
from providers.validation import KeyStatus, ValidationResult, validate
from tests.providers.fakes import (
    AI21,
    ANTHROPIC,
    AZURE,
    BEDROCK_API_KEY,
    BEDROCK_IAM,
    BEDROCK_IAM_TEMP,
    CLOUDFLARE_ACCOUNT,
    CLOUDFLARE_LEGACY,
    CLOUDFLARE_USER,
    COHERE,
    DATABRICKS,
    DEEPSEEK,
    FIREWORKS,
    GOOGLE,
    GROQ,
    HYPERBOLIC,
    INFLECTION,
    LEPTON,
    MISTRAL,
    NOVITA,
    OLLAMA_CLOUD,
    OLLAMA_LOCAL,
    OPENAI,
    OPENROUTER,
    PERPLEXITY,
    REPLICATE,
    SAMBANOVA,
    TOGETHER,
    XAI,
    secrets_of,
)

# ---- realistic provider answers (shapes from shared/providers.md and the providers' docs) -----------

OPENAI_MODELS = {
    "object": "list",
    "data": [{"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"}],
}
OPENAI_BAD_KEY = {
    "error": {
        "message": "Incorrect API key provided: sk-proj-****wxyz. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    }
}
OPENAI_RATE_LIMIT = {
    "error": {
        "message": "Rate limit reached for requests in organization org-abc on requests per min (RPM): "
        "Limit 3, Used 3, Requested 1. Please try again in 20s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
OPENAI_SERVER_ERROR = {
    "error": {"message": "The server had an error while processing your request.", "type": "server_error"}
}
AWS_ERROR_TYPE = "x-amzn-ErrorType"


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Contract:
    """What validating one credential must send, and how the provider answers."""

    provider_id: str
    label: str
    credential: Any
    method: str
    url: str
    # Header name -> exact value expected on the request (the auth headers).
    headers: dict[str, str]
    ok: Answer
    # The provider's answer to a bad key; None where there is no key to reject (a local Ollama).
    bad: Answer | None
    rate_limited: Answer = field(default_factory=lambda: Answer(429, OPENAI_RATE_LIMIT))
    server_error: Answer = field(default_factory=lambda: Answer(503, OPENAI_SERVER_ERROR))
    # Headers that must not be sent (e.g. the Authorization header of a keyless local Ollama).
    absent_headers: tuple[str, ...] = ()
    # Exact JSON body expected (None: no body at all).
    json_body: Any = None
    # Extra assertion on the request (the SigV4 Authorization header).
    check: Callable[[requests.PreparedRequest, Contract], None] | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def openai_like(
    provider_id: str, label: str, credential: Any, url: str, secret: str, bad: Answer | None = None
) -> Contract:
    return Contract(
        provider_id,
        label,
        credential,
        "GET",
        url,
        bearer(secret),
        ok=Answer(200, OPENAI_MODELS),
        bad=bad or Answer(401, OPENAI_BAD_KEY),
    )


def check_sigv4(request: requests.PreparedRequest, contract: Contract) -> None:
    credential = contract.credential
    authorization = request.headers["Authorization"]
    amz_date = request.headers["X-Amz-Date"]
    scope = f"{credential['access_key_id']}/{amz_date[:8]}/{credential['region']}/bedrock/aws4_request"
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=")
    assert "Signature=" in authorization
    if credential.get("session_token"):
        assert request.headers["X-Amz-Security-Token"] == credential["session_token"]
    else:
        assert "X-Amz-Security-Token" not in request.headers
    assert credential["secret_access_key"] not in authorization


def check_no_sigv4(request: requests.PreparedRequest, contract: Contract) -> None:
    assert "X-Amz-Date" not in request.headers
    assert "X-Amz-Security-Token" not in request.headers


def bedrock(label: str, credential: dict[str, str]) -> Contract:
    region = credential["region"]
    api_key = credential.get("bedrock_api_key")
    throttled = {"message": "Too many requests, please wait before trying again."}
    return Contract(
        "bedrock",
        label,
        credential,
        "GET",
        f"https://bedrock.{region}.amazonaws.com/foundation-models",
        bearer(api_key) if api_key else {},
        ok=Answer(
            200,
            {
                "modelSummaries": [
                    {
                        "modelArn": f"arn:aws:bedrock:{region}::foundation-model/amazon.nova-micro-v1:0",
                        "modelId": "amazon.nova-micro-v1:0",
                        "modelName": "Nova Micro",
                        "providerName": "Amazon",
                        "inputModalities": ["TEXT"],
                        "outputModalities": ["TEXT"],
                        "responseStreamingSupported": True,
                        "inferenceTypesSupported": ["ON_DEMAND"],
                        "modelLifecycle": {"status": "ACTIVE"},
                    }
                ]
            },
        ),
        bad=Answer(
            403,
            {"message": "The security token included in the request is invalid."},
            {AWS_ERROR_TYPE: "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/"},
        ),
        rate_limited=Answer(429, throttled, {AWS_ERROR_TYPE: "ThrottlingException"}),
        server_error=Answer(
            500,
            {"message": "Internal server error"},
            {AWS_ERROR_TYPE: "InternalServerException"},
        ),
        check=check_no_sigv4 if api_key else check_sigv4,
    )


CLOUDFLARE_OK = {
    "result": {"id": "ed17574386854bf78a67040be0a770b0", "status": "active"},
    "success": True,
    "errors": [],
    "messages": [{"code": 10000, "message": "This API Token is valid and active", "type": None}],
}
CLOUDFLARE_BAD = {
    "success": False,
    "errors": [{"code": 1000, "message": "Invalid API Token"}],
    "messages": [],
    "result": None,
}
CLOUDFLARE_RATE_LIMIT = {
    "success": False,
    "errors": [{"code": 971, "message": "Please wait and consider throttling your request speed"}],
}

CONTRACTS: list[Contract] = [
    Contract(
        "openai",
        "project key",
        OPENAI,
        "GET",
        "https://api.openai.com/v1/models",
        bearer(OPENAI),
        ok=Answer(200, OPENAI_MODELS),
        bad=Answer(401, OPENAI_BAD_KEY),
    ),
    Contract(
        "anthropic",
        "api03 key",
        ANTHROPIC,
        "GET",
        "https://api.anthropic.com/v1/models",
        {"x-api-key": ANTHROPIC, "anthropic-version": "2023-06-01"},
        ok=Answer(
            200,
            {
                "data": [
                    {
                        "type": "model",
                        "id": "claude-sonnet-4-5-20250929",
                        "display_name": "Claude Sonnet 4.5",
                        "created_at": "2025-09-29T00:00:00Z",
                    }
                ],
                "has_more": False,
                "first_id": "claude-sonnet-4-5-20250929",
                "last_id": "claude-sonnet-4-5-20250929",
            },
        ),
        bad=Answer(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}),
        rate_limited=Answer(
            429,
            {
                "type": "error",
                "error": {"type": "rate_limit_error", "message": "Number of requests has exceeded your rate limit."},
            },
        ),
        server_error=Answer(500, {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}),
        absent_headers=("Authorization",),
    ),
    Contract(
        "google",
        "auth key",
        GOOGLE,
        "GET",
        "https://generativelanguage.googleapis.com/v1beta/models",
        {"x-goog-api-key": GOOGLE},
        ok=Answer(
            200,
            {
                "models": [
                    {
                        "name": "models/gemini-2.5-flash",
                        "displayName": "Gemini 2.5 Flash",
                        "supportedGenerationMethods": ["generateContent", "countTokens"],
                    }
                ],
                "nextPageToken": "Ch5tb2RlbHMvZ2VtaW5pLTIuNS1mbGFzaA==",
            },
        ),
        bad=Answer(
            400,
            {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                            "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"},
                        }
                    ],
                }
            },
        ),
        rate_limited=Answer(
            429,
            {
                "error": {
                    "code": 429,
                    "message": "Resource has been exhausted (e.g. check quota).",
                    "status": "RESOURCE_EXHAUSTED",
                }
            },
        ),
        server_error=Answer(
            503, {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}
        ),
        absent_headers=("Authorization",),
    ),
    Contract(
        "azure",
        "legacy 32-hex key",
        AZURE,
        "GET",
        "https://my-resource.openai.azure.com/openai/models?api-version=2024-10-21",
        {"api-key": AZURE["api_key"]},
        ok=Answer(
            200,
            {
                "data": [
                    {
                        "id": "gpt-4o-mini-2024-07-18",
                        "object": "model",
                        "status": "succeeded",
                        "capabilities": {"chat_completion": True},
                    }
                ],
                "object": "list",
            },
        ),
        bad=Answer(
            401,
            {
                "error": {
                    "code": "401",
                    "message": "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
                    "provide a valid key for an active subscription and use a correct regional API endpoint "
                    "for your resource.",
                }
            },
        ),
        rate_limited=Answer(
            429,
            {"error": {"code": "429", "message": "Requests to the Models_List Operation have exceeded rate limit."}},
        ),
        absent_headers=("Authorization",),
    ),
    bedrock("IAM long-term", BEDROCK_IAM),
    bedrock("IAM temporary", BEDROCK_IAM_TEMP),
    bedrock("long-term API key", BEDROCK_API_KEY),
    Contract(
        "xai",
        "key",
        XAI,
        "GET",
        "https://api.x.ai/v1/api-key",
        bearer(XAI),
        ok=Answer(
            200,
            {
                "redacted_api_key": "xai-****abcd",
                "user_id": "8a6e6b5e-0000-4000-8000-000000000001",
                "name": "production",
                "create_time": "2026-03-01T10:00:00Z",
                "modify_time": "2026-03-01T10:00:00Z",
                "team_id": "8a6e6b5e-0000-4000-8000-000000000002",
                "acls": ["api-key:model:*", "api-key:endpoint:*"],
                "api_key_id": "8a6e6b5e-0000-4000-8000-000000000003",
                "team_blocked": False,
                "api_key_blocked": False,
                "api_key_disabled": False,
            },
        ),
        bad=Answer(
            400,
            {
                "code": "Client specified an invalid argument",
                "error": "Incorrect API key provided: xa***cd. You can obtain an API key from https://console.x.ai.",
            },
        ),
    ),
    Contract(
        "cohere",
        "key",
        COHERE,
        "POST",
        "https://api.cohere.com/v1/check-api-key",
        bearer(COHERE),
        ok=Answer(200, {"valid": True, "organization_id": "0b1c2d3e-org", "owner_id": "4f5a6b7c-owner"}),
        bad=Answer(401, {"message": "invalid api token"}),
        rate_limited=Answer(429, {"message": "You are using a Trial key, which is limited to 1000 API calls / month."}),
    ),
    openai_like(
        "mistral",
        "key",
        MISTRAL,
        "https://api.mistral.ai/v1/models",
        MISTRAL,
        Answer(401, {"message": "Unauthorized", "request_id": "a1b2c3"}),
    ),
    Contract(
        "perplexity",
        "key",
        PERPLEXITY,
        "POST",
        "https://api.perplexity.ai/chat/completions",
        bearer(PERPLEXITY),
        ok=Answer(
            200,
            {
                "id": "3c9a1f0e-chat",
                "model": "sonar",
                "object": "chat.completion",
                "choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "P"}}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                "citations": [],
            },
        ),
        bad=Answer(401, {"error": {"message": "Invalid API key provided.", "type": "invalid_api_key", "code": 401}}),
        json_body={"model": "sonar", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1},
    ),
    Contract(
        "inflection",
        "key",
        INFLECTION,
        "POST",
        "https://layercake.pubwestus3.inf7ks8.com/external/api/inference",
        bearer(INFLECTION),
        ok=Answer(200, {"created": 1767225600.0, "text": "Hi!"}),
        bad=Answer(401, {"detail": "Invalid API key"}),
        json_body={"config": "inflection_3_pi", "context": [{"type": "Human", "text": "ping"}]},
    ),
    Contract(
        "ai21",
        "uuid key",
        AI21,
        "GET",
        "https://api.ai21.com/studio/v1/library/files",
        bearer(AI21),
        ok=Answer(200, [{"file_id": "f-1", "name": "handbook.pdf", "status": "PROCESSED", "size_bytes": 20480}]),
        bad=Answer(401, {"detail": "Forbidden: Bad or missing API token."}),
    ),
    Contract(
        "deepseek",
        "key",
        DEEPSEEK,
        "GET",
        "https://api.deepseek.com/user/balance",
        bearer(DEEPSEEK),
        ok=Answer(
            200,
            {
                "is_available": True,
                "balance_infos": [
                    {
                        "currency": "CNY",
                        "total_balance": "110.00",
                        "granted_balance": "10.00",
                        "topped_up_balance": "100.00",
                    }
                ],
            },
        ),
        bad=Answer(
            401,
            {
                "error": {
                    "message": "Authentication Fails, Your api key: ****abcd is invalid",
                    "type": "authentication_error",
                    "param": None,
                    "code": "invalid_request_error",
                }
            },
        ),
    ),
    Contract(
        "together",
        "tgp_v1 key",
        TOGETHER,
        "GET",
        "https://api.together.xyz/v1/models",
        bearer(TOGETHER),
        # Together's /models answers a bare JSON array.
        ok=Answer(200, [{"id": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "object": "model", "type": "chat"}]),
        bad=Answer(401, OPENAI_BAD_KEY),
    ),
    openai_like(
        "fireworks",
        "key",
        FIREWORKS,
        "https://api.fireworks.ai/inference/v1/models",
        FIREWORKS,
        Answer(
            401,
            {
                "error": {
                    "object": "error",
                    "type": "invalid_request_error",
                    "message": "The API key you provided is invalid.",
                }
            },
        ),
    ),
    openai_like(
        "groq",
        "52 chars",
        GROQ,
        "https://api.groq.com/openai/v1/models",
        GROQ,
        Answer(
            401, {"error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}}
        ),
    ),
    Contract(
        "replicate",
        "token",
        REPLICATE,
        "GET",
        "https://api.replicate.com/v1/account",
        bearer(REPLICATE),
        ok=Answer(
            200, {"type": "user", "username": "alice", "name": "Alice", "github_url": "https://github.com/alice"}
        ),
        bad=Answer(
            401, {"title": "Unauthenticated", "detail": "You did not pass a valid authentication token", "status": 401}
        ),
    ),
    openai_like("hyperbolic", "jwt-like key", HYPERBOLIC, "https://api.hyperbolic.xyz/v1/models", HYPERBOLIC),
    openai_like(
        "sambanova",
        "uuid-like key",
        SAMBANOVA,
        "https://api.sambanova.ai/v1/models",
        SAMBANOVA,
        Answer(401, {"error": {"message": "Invalid API key", "type": "authentication_error", "request_id": "r-1"}}),
    ),
    openai_like(
        "lepton",
        "legacy endpoint",
        LEPTON,
        "https://llama3-1-8b.lepton.run/api/v1/models",
        LEPTON["api_token"],
        Answer(401, {"error": {"message": "Invalid token", "type": "unauthorized"}}),
    ),
    Contract(
        "databricks",
        "PAT on AWS",
        DATABRICKS,
        "GET",
        "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/api/2.0/preview/scim/v2/Me",
        bearer(DATABRICKS["api_token"]),
        ok=Answer(
            200,
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "4242424242424242",
                "userName": "alice@example.com",
                "displayName": "Alice",
                "active": True,
            },
        ),
        bad=Answer(403, {"error_code": "403", "message": "Invalid access token."}),
        rate_limited=Answer(429, {"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "Too many requests."}),
    ),
    Contract(
        "cloudflare",
        "user token",
        CLOUDFLARE_USER,
        "GET",
        "https://api.cloudflare.com/client/v4/user/tokens/verify",
        bearer(CLOUDFLARE_USER["api_token"]),
        ok=Answer(200, CLOUDFLARE_OK),
        bad=Answer(401, CLOUDFLARE_BAD),
        rate_limited=Answer(429, CLOUDFLARE_RATE_LIMIT),
    ),
    Contract(
        "cloudflare",
        "account token",
        CLOUDFLARE_ACCOUNT,
        "GET",
        f"https://api.cloudflare.com/client/v4/accounts/{CLOUDFLARE_ACCOUNT['account_id']}/tokens/verify",
        bearer(CLOUDFLARE_ACCOUNT["api_token"]),
        ok=Answer(200, CLOUDFLARE_OK),
        bad=Answer(401, CLOUDFLARE_BAD),
        rate_limited=Answer(429, CLOUDFLARE_RATE_LIMIT),
    ),
    Contract(
        "cloudflare",
        "legacy token",
        CLOUDFLARE_LEGACY,
        "GET",
        "https://api.cloudflare.com/client/v4/user/tokens/verify",
        bearer(CLOUDFLARE_LEGACY["api_token"]),
        ok=Answer(200, CLOUDFLARE_OK),
        bad=Answer(403, CLOUDFLARE_BAD),
        rate_limited=Answer(429, CLOUDFLARE_RATE_LIMIT),
    ),
    openai_like(
        "novita",
        "key",
        NOVITA,
        "https://api.novita.ai/openai/v1/models",
        NOVITA,
        Answer(401, {"code": 401, "reason": "INVALID_API_KEY", "message": "invalid api key", "metadata": {}}),
    ),
    Contract(
        "openrouter",
        "key",
        OPENROUTER,
        "GET",
        "https://openrouter.ai/api/v1/key",
        bearer(OPENROUTER),
        ok=Answer(
            200,
            {
                "data": {
                    "label": "sk-or-v1-abc...123",
                    "limit": None,
                    "usage": 0.25,
                    "is_free_tier": False,
                    "limit_remaining": None,
                    "rate_limit": {"requests": 10, "interval": "10s"},
                }
            },
        ),
        bad=Answer(401, {"error": {"message": "No auth credentials found", "code": 401}}),
    ),
    Contract(
        "ollama",
        "local server",
        OLLAMA_LOCAL,
        "GET",
        "http://localhost:11434/api/version",
        {},
        ok=Answer(200, {"version": "0.12.6"}),
        bad=None,  # a local server takes no key, so there is nothing to reject
        rate_limited=Answer(429, {"error": "too many requests"}),
        server_error=Answer(500, {"error": "internal error"}),
        absent_headers=("Authorization",),
        # The operator runs Ollama on this machine and allows it explicitly.
        settings={"BYOK_ALLOWED_PRIVATE_HOSTS": ["localhost"]},
    ),
    Contract(
        "ollama",
        "ollama cloud",
        OLLAMA_CLOUD,
        "GET",
        "https://ollama.com/api/tags",
        bearer(OLLAMA_CLOUD["api_key"]),
        ok=Answer(200, {"models": [{"name": "gpt-oss:120b", "model": "gpt-oss:120b", "size": 65000000000}]}),
        bad=Answer(401, {"error": "unauthorized"}),
        rate_limited=Answer(429, {"error": "too many requests"}),
        server_error=Answer(502, {"error": "bad gateway"}),
    ),
]


def validatable(provider_id: str) -> bool:
    return REGISTRY[provider_id].spec.status is not ProviderStatus.DISCONTINUED


def params(contracts: list[Contract]) -> list[Any]:
    return [
        pytest.param(c, id=f"{c.provider_id}-{c.label}".replace(" ", "_"))
        for c in contracts
        if validatable(c.provider_id)
    ]


ALL = params(CONTRACTS)
WITH_BAD_KEY_ANSWER = params([c for c in CONTRACTS if c.bad is not None])
BILLED_IDS = [pid for pid, cls in REGISTRY.items() if cls.spec.validation_billed and validatable(pid)]


# ---- helpers ----------------------------------------------------------------------------------


def make_adapter(contract: Contract) -> ProviderAdapter:
    adapter_cls = REGISTRY[contract.provider_id]
    return adapter_cls(adapter_cls.parse_credential(contract.credential))


def register(mock: responses.RequestsMock, contract: Contract, answer: Answer | BaseException) -> None:
    kwargs: dict[str, Any]
    if isinstance(answer, BaseException):
        kwargs = {"body": answer}
    else:
        kwargs = {"status": answer.status, "json": answer.body, "headers": answer.headers}
    # The query string is part of the contract (Azure's api-version; never a ?key=).
    url, _, query = contract.url.partition("?")
    mock.add(contract.method, url, match=[matchers.query_string_matcher(query)], **kwargs)


def run(
    contract: Contract,
    answer: Answer | BaseException,
    mock: responses.RequestsMock,
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
) -> ValidationResult:
    """Validate ``contract``'s credential against ``answer``; assert what was sent and what was logged."""
    caplog.set_level(logging.DEBUG)
    if REGISTRY[contract.provider_id].spec.validation_billed:
        settings.BYOK_ALLOW_BILLED_VALIDATION = True
    for name, value in contract.settings.items():
        setattr(settings, name, value)
    register(mock, contract, answer)

    result = validate(make_adapter(contract))

    assert len(mock.calls) == 1, "exactly one request, no retries in tests and no redirects followed"
    assert_request_matches(mock.calls[0].request, contract)
    for secret in secrets_of(contract.provider_id, contract.credential):
        assert secret not in caplog.text, "a secret reached the logs"
        assert secret not in result.reason
    return result


def assert_request_matches(request: requests.PreparedRequest, contract: Contract) -> None:
    assert request.method == contract.method
    assert request.url == contract.url
    for name, value in contract.headers.items():
        assert request.headers.get(name) == value, f"header {name}"
    for name in contract.absent_headers:
        assert name not in request.headers, f"header {name} must not be sent"
    if contract.json_body is None:
        assert not request.body, "the validation request carries no body"
    else:
        assert request.headers["Content-Type"] == "application/json"
        assert json.loads(request.body or b"{}") == contract.json_body
    # Keys go in headers, never in URLs (URLs end up in access logs and proxies).
    query = parse_qs(urlsplit(request.url or "").query)
    assert not {"key", "api_key", "apikey", "token", "access_token"} & set(query)
    for secret in secrets_of(contract.provider_id, contract.credential):
        assert secret not in (request.url or "")
    if contract.check:
        contract.check(request, contract)


# ---- the registry is covered ------------------------------------------------------------------


def test_contract_table_covers_every_validatable_provider() -> None:
    covered = {c.provider_id for c in CONTRACTS}
    assert covered == {pid for pid in REGISTRY if validatable(pid)}


def test_discontinued_providers_are_not_in_the_contract() -> None:
    discontinued = {pid for pid in REGISTRY if not validatable(pid)}
    assert discontinued == {"anyscale", "octoai"}
    assert not discontinued & {p.values[0].provider_id for p in ALL}


# ---- the five answers ------------------------------------------------------------------------


@pytest.mark.parametrize("contract", ALL)
def test_provider_2xx_answer_means_valid(
    contract: Contract,
    provider_mock: responses.RequestsMock,
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = run(contract, contract.ok, provider_mock, settings, caplog)
    assert result.status is KeyStatus.VALID, result.reason
    assert result.http_status == contract.ok.status


@pytest.mark.parametrize("contract", WITH_BAD_KEY_ANSWER)
def test_provider_bad_key_answer_means_invalid(
    contract: Contract,
    provider_mock: responses.RequestsMock,
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert contract.bad is not None
    result = run(contract, contract.bad, provider_mock, settings, caplog)
    assert result.status is KeyStatus.INVALID, result.reason
    assert result.http_status == contract.bad.status
    assert not result.usable


@pytest.mark.parametrize("contract", ALL)
def test_provider_429_means_unverified_and_honours_retry_after(
    contract: Contract,
    provider_mock: responses.RequestsMock,
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
) -> None:
    answer = Answer(429, contract.rate_limited.body, {**contract.rate_limited.headers, "Retry-After": "17"})
    result = run(contract, answer, provider_mock, settings, caplog)
    assert result.status is KeyStatus.UNVERIFIED, result.reason
    assert result.http_status == 429
    assert result.retry_after == 17


@pytest.mark.parametrize("contract", ALL)
def test_provider_timeout_means_unverified(
    contract: Contract,
    provider_mock: responses.RequestsMock,
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = run(
        contract, requests.exceptions.ReadTimeout("Read timed out. (read timeout=10)"), provider_mock, settings, caplog
    )
    assert result.status is KeyStatus.UNVERIFIED
    assert result.http_status is None
    assert "did not answer" in result.reason


@pytest.mark.parametrize("contract", ALL)
def test_provider_5xx_means_unverified(
    contract: Contract,
    provider_mock: responses.RequestsMock,
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = run(contract, contract.server_error, provider_mock, settings, caplog)
    assert result.status is KeyStatus.UNVERIFIED, result.reason
    assert result.http_status == contract.server_error.status
    assert result.usable


@pytest.mark.parametrize("contract", ALL)
def test_provider_2xx_with_an_unreadable_body_never_raises(
    contract: Contract,
    provider_mock: responses.RequestsMock,
    settings: SettingsWrapper,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A captive portal or proxy answering HTML must give a result, not a 500 from a JSON error."""
    caplog.set_level(logging.DEBUG)
    if REGISTRY[contract.provider_id].spec.validation_billed:
        settings.BYOK_ALLOW_BILLED_VALIDATION = True
    for name, value in contract.settings.items():
        setattr(settings, name, value)
    url, _, query = contract.url.partition("?")
    provider_mock.add(
        contract.method,
        url,
        match=[matchers.query_string_matcher(query)],
        body="<html><body>Sign in to the network</body></html>",
        status=200,
    )
    result = validate(make_adapter(contract))
    assert isinstance(result.status, KeyStatus)


# ---- billed providers -------------------------------------------------------------------------


def test_billed_providers_are_perplexity_and_inflection() -> None:
    assert set(BILLED_IDS) == {"perplexity", "inflection"}


@pytest.mark.parametrize("provider_id", BILLED_IDS)
def test_billed_provider_sends_nothing_without_opt_in(
    provider_id: str, provider_mock: responses.RequestsMock, settings: SettingsWrapper
) -> None:
    settings.BYOK_ALLOW_BILLED_VALIDATION = False
    contract = next(c for c in CONTRACTS if c.provider_id == provider_id)
    result = validate(make_adapter(contract))
    assert len(provider_mock.calls) == 0
    assert result.status is KeyStatus.UNVERIFIED
    assert result.http_status is None
    assert "BYOK_ALLOW_BILLED_VALIDATION" in result.reason


# ---- masking ----------------------------------------------------------------------------------


@pytest.mark.parametrize("contract", ALL)
def test_sent_credential_headers_are_masked_when_logged(contract: Contract) -> None:
    """If a header line carrying a secret were ever logged ("Authorization: Bearer sk-…", a request
    dump), the logging filter's ``mask_secrets`` must hide the secret."""
    request = make_adapter(contract).validation_request()
    assert request is not None
    secrets = secrets_of(contract.provider_id, contract.credential)
    lines = [f"{name}: {value}" for name, value in request.headers.items() if any(s in value for s in secrets)]
    if contract.check is check_sigv4:
        # SigV4 sends a signature, never the secret access key itself.
        assert contract.credential["secret_access_key"] not in str(request.headers)
    elif secrets:
        assert lines, "the secret is sent in a header"
    for line in lines:
        masked = mask_secrets(line)
        for secret in secrets:
            assert secret not in masked, f"mask_secrets left a secret in {line.split(':')[0]!r}"
    # The request's repr (what a debugger or an error report shows) never carries the headers.
    for secret in secrets:
        assert secret not in repr(request)
