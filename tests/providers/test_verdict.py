"""One verdict per provider answer: the cross-provider rule, each provider's own rows, and how validation
and chat derive their outcomes from the same verdict (answers built in memory; no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from providers.chat import (
    ERROR_CLASSES,
    ChatMessage,
    ChatRequest,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
)
from providers.registry import get_adapter_class
from providers.validation import ValidationResult
from providers.verdict import FAILOVER_ERRORS, ChatErrorCode, KeyStatus, Verdict
from tests.providers.fakes import GROQ, adapter_for

AUTH = ChatErrorCode.AUTH_FAILED
NO_CREDIT = ChatErrorCode.NO_CREDIT
RATE_LIMITED = ChatErrorCode.RATE_LIMITED
BAD_REQUEST = ChatErrorCode.BAD_REQUEST
FAILED = ChatErrorCode.FAILED


def answer(
    status: int, body: Any = None, *, url: str = "https://api.example.com/v1/x", **headers: str
) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body if body is not None else {}).encode()
    response.headers.update(headers)
    response.url = url
    return response


def read(provider_id: str, label: str, response: requests.Response) -> Verdict:
    return adapter_for(provider_id, label).read_answer(response)


# ---- the cross-provider rule (a provider without rows of its own) -------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "key_status", "error", "temporary"),
    [
        (200, {"data": []}, KeyStatus.VALID, None, False),
        (401, {"error": {"message": "Invalid API Key"}}, KeyStatus.INVALID, AUTH, False),
        (402, {"error": {"message": "Payment required"}}, KeyStatus.NO_CREDIT, NO_CREDIT, False),
        (403, {"error": {"message": "Forbidden"}}, KeyStatus.RESTRICTED, AUTH, False),
        (429, {"error": {"message": "quota", "type": "insufficient_quota"}}, KeyStatus.NO_CREDIT, NO_CREDIT, False),
        (429, {"error": {"message": "slow down"}}, None, RATE_LIMITED, True),
        (400, {"error": {"message": "bad parameter"}}, None, BAD_REQUEST, False),
        (404, {"error": {"message": "no such model"}}, None, BAD_REQUEST, False),
        (422, {"error": {"message": "unprocessable"}}, None, BAD_REQUEST, False),
        (409, {"error": {"message": "conflict"}}, None, FAILED, False),
        (500, {"error": {"message": "boom"}}, None, FAILED, True),
        (529, {"error": {"message": "overloaded"}}, None, FAILED, True),
    ],
)
def test_cross_provider_rule(
    status: int, body: Any, key_status: KeyStatus | None, error: ChatErrorCode | None, temporary: bool
) -> None:
    verdict = read("groq", "52 chars", answer(status, body))
    assert (verdict.key_status, verdict.error, verdict.temporary) == (key_status, error, temporary)
    assert verdict.http_status == status
    assert verdict.failover is (error in FAILOVER_ERRORS)


def test_rate_limit_verdict_carries_retry_after_only_when_the_provider_gives_it() -> None:
    assert read("groq", "52 chars", answer(429, {}, **{"Retry-After": "17"})).retry_after == 17
    assert read("groq", "52 chars", answer(429, {})).retry_after is None
    assert read("groq", "52 chars", answer(503, {}, **{"Retry-After": "17"})).retry_after is None


# ---- each provider's own rows: one table, read the same way by validation and chat ---------------------

AWS_TYPE = "x-amzn-ErrorType"
CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"
DATABRICKS_HOST = "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com"


def row(
    provider_label: str,
    status: int,
    body: Any,
    key_status: KeyStatus | None,
    error: ChatErrorCode,
    upstream_status: int,
    *,
    url: str = "https://api.example.com/v1/chat/completions",
    headers: dict[str, str] | None = None,
    id: str,
) -> Any:
    provider_id, _, label = provider_label.partition(":")
    return pytest.param(
        provider_id, label, answer(status, body, url=url, **(headers or {})), key_status, error, upstream_status, id=id
    )


PROVIDER_ROWS = [
    row(
        "openai:project key",
        401,
        {"error": {"message": "Missing scopes: model.request"}},
        KeyStatus.RESTRICTED,
        AUTH,
        401,
        id="openai-401-missing-scopes-is-a-restricted-key",
    ),
    row(
        "openai:project key",
        403,
        {"error": {"message": "Country, region, or territory not supported"}},
        None,
        AUTH,
        403,
        id="openai-403-unsupported-country-says-nothing-about-the-key",
    ),
    row(
        "xai:key",
        400,
        {"error": "Incorrect API key provided"},
        KeyStatus.INVALID,
        AUTH,
        400,
        url="https://api.x.ai/v1/api-key",
        id="xai-400-from-the-key-endpoint-is-an-invalid-key",
    ),
    row(
        "xai:key",
        400,
        {"error": "Unknown parameter"},
        None,
        BAD_REQUEST,
        400,
        url="https://api.x.ai/v1/chat/completions",
        id="xai-400-from-chat-is-a-bad-request",
    ),
    row("xai:key", 200, {"api_key_blocked": True}, KeyStatus.INVALID, AUTH, 200, id="xai-200-blocked-key"),
    row(
        "perplexity:key",
        403,
        {"error": {"message": "Invalid API key"}},
        KeyStatus.INVALID,
        AUTH,
        403,
        id="perplexity-403-is-an-invalid-key",
    ),
    row(
        "inflection:key",
        403,
        {"detail": "Invalid API key"},
        KeyStatus.INVALID,
        AUTH,
        403,
        id="inflection-403-is-an-invalid-key",
    ),
    row(
        "deepseek:key",
        200,
        {"is_available": False},
        KeyStatus.NO_CREDIT,
        NO_CREDIT,
        200,
        id="deepseek-200-empty-balance",
    ),
    row(
        "novita:key",
        403,
        {"reason": "NOT_ENOUGH_BALANCE"},
        KeyStatus.NO_CREDIT,
        AUTH,
        403,
        id="novita-403-not-enough-balance",
    ),
    row(
        "openrouter:key",
        403,
        {"error": {"message": "Key limit exceeded"}},
        KeyStatus.NO_CREDIT,
        AUTH,
        403,
        id="openrouter-403-budget-limit",
    ),
    row(
        "anthropic:api03 key",
        400,
        {"error": {"message": "Your credit balance is too low"}},
        KeyStatus.NO_CREDIT,
        NO_CREDIT,
        400,
        id="anthropic-400-low-credit-balance",
    ),
    row(
        "google:auth key",
        400,
        {"error": {"message": "API key not valid.", "details": [{"reason": "API_KEY_INVALID"}]}},
        KeyStatus.INVALID,
        AUTH,
        401,
        id="google-400-api-key-invalid-is-reported-as-401",
    ),
    row(
        "google:auth key",
        400,
        {"error": {"message": "API key expired. Please renew the API key."}},
        KeyStatus.INVALID,
        AUTH,
        401,
        id="google-400-api-key-expired",
    ),
    row(
        "google:auth key",
        400,
        {"error": {"message": "Invalid JSON payload"}},
        None,
        BAD_REQUEST,
        400,
        id="google-400-other-is-a-bad-request",
    ),
    row(
        "google:auth key",
        403,
        {"error": {"status": "PERMISSION_DENIED"}},
        KeyStatus.RESTRICTED,
        AUTH,
        403,
        id="google-403-no-gemini-access",
    ),
    row(
        "cloudflare:user token",
        403,
        {"success": False},
        KeyStatus.INVALID,
        AUTH,
        403,
        url=f"{CLOUDFLARE_API}/user/tokens/verify",
        id="cloudflare-403-from-token-verify-is-an-invalid-token",
    ),
    row(
        "cloudflare:user token",
        403,
        {"success": False},
        KeyStatus.RESTRICTED,
        AUTH,
        403,
        url=f"{CLOUDFLARE_API}/accounts/abc/ai/run/@cf/meta/llama",
        id="cloudflare-403-from-workers-ai-is-restricted",
    ),
    row(
        "databricks:PAT on AWS",
        403,
        {"message": "Invalid access token."},
        KeyStatus.INVALID,
        AUTH,
        403,
        url=f"{DATABRICKS_HOST}/api/2.0/preview/scim/v2/Me",
        id="databricks-403-from-scim-me-is-an-invalid-token",
    ),
    row(
        "databricks:PAT on AWS",
        403,
        {"message": "No permission"},
        KeyStatus.RESTRICTED,
        AUTH,
        403,
        url=f"{DATABRICKS_HOST}/serving-endpoints/m/invocations",
        id="databricks-403-from-serving-is-restricted",
    ),
    row("cohere:key", 200, {"valid": False}, KeyStatus.INVALID, AUTH, 200, id="cohere-200-valid-false"),
    row("cohere:key", 200, "<html>proxy</html>", None, FAILED, 200, id="cohere-200-unreadable"),
    row(
        "bedrock:IAM long-term",
        403,
        {"message": "bad token"},
        KeyStatus.INVALID,
        AUTH,
        401,
        headers={AWS_TYPE: "UnrecognizedClientException"},
        id="bedrock-unrecognized-client-is-reported-as-401",
    ),
    row(
        "bedrock:IAM long-term",
        403,
        {"message": "denied"},
        KeyStatus.RESTRICTED,
        AUTH,
        403,
        headers={AWS_TYPE: "AccessDeniedException"},
        id="bedrock-access-denied",
    ),
    row(
        "bedrock:IAM long-term",
        400,
        {"message": "quota"},
        None,
        RATE_LIMITED,
        400,
        headers={AWS_TYPE: "ServiceQuotaExceededException"},
        id="bedrock-service-quota-exceeded-is-rate-limited",
    ),
    row(
        "bedrock:IAM long-term",
        403,
        {"message": "bad model", "__type": "x#ValidationException"},
        None,
        BAD_REQUEST,
        403,
        id="bedrock-validation-exception-is-a-bad-request",
    ),
    row(
        "bedrock:IAM long-term",
        403,
        {"message": "Forbidden"},
        KeyStatus.RESTRICTED,
        AUTH,
        403,
        id="bedrock-403-without-a-type-follows-the-rule",
    ),
]


@pytest.mark.parametrize(("provider_id", "label", "response", "key_status", "error", "upstream_status"), PROVIDER_ROWS)
def test_provider_rows(
    provider_id: str,
    label: str,
    response: requests.Response,
    key_status: KeyStatus | None,
    error: ChatErrorCode,
    upstream_status: int,
) -> None:
    verdict = read(provider_id, label, response)
    assert (verdict.key_status, verdict.error, verdict.upstream_status) == (key_status, error, upstream_status)
    assert verdict.http_status == response.status_code


# ---- each caller derives its outcome from the one verdict ---------------------------------------------


@pytest.mark.parametrize(
    ("status", "validation_status", "chat_error", "chat_retry_after"),
    [
        # Validation learns nothing from a rate limit; chat fails over with a Retry-After (default 10 s).
        (429, KeyStatus.UNVERIFIED, UpstreamRateLimited, 10),
        (401, KeyStatus.INVALID, UpstreamAuthError, None),
        (503, KeyStatus.UNVERIFIED, UpstreamError, None),
    ],
)
def test_validation_and_chat_read_the_same_verdict_their_own_way(
    status: int, validation_status: KeyStatus, chat_error: type[UpstreamError], chat_retry_after: int | None
) -> None:
    verdict = read("groq", "52 chars", answer(status, {"error": {"message": "no"}}))

    assert ValidationResult.of(verdict).status is validation_status
    error = UpstreamError.from_verdict(verdict)
    assert type(error) is chat_error
    assert error.verdict is verdict
    assert error.failover is verdict.failover
    assert error.upstream_status == status
    assert error.retry_after == chat_retry_after


def test_every_chat_error_code_has_its_class_and_failover_follows_the_code() -> None:
    assert set(ERROR_CLASSES) == set(ChatErrorCode)
    for code, error_class in ERROR_CLASSES.items():
        assert error_class.code == code
        assert error_class.failover is (code in FAILOVER_ERRORS)


def test_an_error_not_read_from_an_answer_learnt_nothing_about_the_key() -> None:
    error = UpstreamTimeout("slow")
    assert (error.verdict.key_status, error.verdict.error, error.verdict.temporary) == (
        None,
        ChatErrorCode.TIMEOUT,
        True,
    )
    assert error.verdict.failover is False


def test_a_chat_error_answer_raises_the_error_carrying_the_adapters_verdict(
    provider_mock: responses.RequestsMock,
) -> None:
    adapter = get_adapter_class("groq")(GROQ)
    provider_mock.add(
        responses.POST,
        "https://api.groq.com/openai/v1/chat/completions",
        status=401,
        json={"error": {"message": f"Invalid API Key {GROQ}"}},
    )
    with pytest.raises(UpstreamAuthError) as excinfo:
        adapter.chat(ChatRequest(model="llama-3.1-8b-instant", messages=(ChatMessage("user", "hi"),)))
    verdict = excinfo.value.verdict
    assert verdict.key_status is KeyStatus.INVALID
    assert verdict.failover is True
    # The texts are credential-free: the adapter removes its own key even where masking would not.
    assert GROQ[10:30] not in verdict.message and GROQ[10:30] not in verdict.reason
    assert excinfo.value.message == verdict.message
