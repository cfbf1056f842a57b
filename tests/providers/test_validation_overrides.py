"""Every per-provider override of the cross-provider rule (``shared/providers.md``), one rule per test,
plus redirects, base-URL overrides and the AWS SigV4 signature."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
import responses
from pytest_django.fixtures import Settings

from providers import http
from providers.registry import REGISTRY
from providers.validation import KeyStatus, ValidationResult, validate
from tests.providers.fakes import (
    ANTHROPIC,
    AZURE,
    BEDROCK_API_KEY,
    BEDROCK_IAM,
    BEDROCK_IAM_TEMP,
    CLOUDFLARE_USER,
    COHERE,
    DATABRICKS,
    DEEPSEEK,
    GOOGLE,
    INFLECTION,
    NOVITA,
    OPENAI,
    OPENROUTER,
    PERPLEXITY,
    XAI,
)

OPENAI_MODELS_URL = "https://api.openai.com/v1/models"
GEMINI_MODELS_URL = "https://generativelanguage.googleapis.com/v1beta/models"
XAI_KEY_URL = "https://api.x.ai/v1/api-key"
CLOUDFLARE_VERIFY_URL = "https://api.cloudflare.com/client/v4/user/tokens/verify"
NOVITA_MODELS_URL = "https://api.novita.ai/openai/v1/models"
DEEPSEEK_BALANCE_URL = "https://api.deepseek.com/user/balance"
OPENROUTER_KEY_URL = "https://openrouter.ai/api/v1/key"
COHERE_CHECK_URL = "https://api.cohere.com/v1/check-api-key"
ANTHROPIC_MODELS_URL = "https://api.anthropic.com/v1/models"
AZURE_MODELS_URL = "https://my-resource.openai.azure.com/openai/models"
DATABRICKS_ME_URL = "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/api/2.0/preview/scim/v2/Me"


def bedrock_url(credential: dict[str, str]) -> str:
    return f"https://bedrock.{credential['region']}.amazonaws.com/foundation-models"


Check = Callable[..., ValidationResult]


@pytest.fixture
def check(provider_mock: responses.RequestsMock, settings: Settings) -> Check:
    """Validate ``credential`` for ``provider_id`` against one mocked answer from ``url``."""

    def _check(
        provider_id: str,
        credential: Any,
        url: str,
        *,
        method: str = "GET",
        status: int = 200,
        json: Any = None,
        body: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> ValidationResult:
        if REGISTRY[provider_id].spec.validation_billed:
            settings.BYOK_ALLOW_BILLED_VALIDATION = True
        kwargs: dict[str, Any] = {"status": status, "headers": headers or {}}
        if body is not None:
            kwargs["body"] = body
        else:
            kwargs["json"] = json
        provider_mock.add(method, url, **kwargs)
        adapter_cls = REGISTRY[provider_id]
        result = validate(adapter_cls(adapter_cls.parse_credential(credential)))
        assert len(provider_mock.calls) == 1
        return result

    return _check


def openai_error(message: str, *, type_: str = "invalid_request_error", code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": None, "code": code}}


# ---- OpenAI ---------------------------------------------------------------------------------------


def test_openai_401_missing_scopes_means_valid_but_restricted(check: Check) -> None:
    result = check(
        "openai",
        OPENAI,
        OPENAI_MODELS_URL,
        status=401,
        json=openai_error(
            "You have insufficient permissions for this operation. Missing scopes: api.model.read. Check that "
            "you have the correct role in your organization (Reader, Writer, Owner) and project (Member, "
            "Owner), and if you're using a restricted API key, that it has the necessary scopes."
        ),
    )
    assert result.status is KeyStatus.RESTRICTED
    assert result.http_status == 401
    assert result.usable


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(
            openai_error(
                "Incorrect API key provided: sk-proj-****wxyz. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            ),
            id="incorrect-api-key-message",
        ),
        pytest.param(openai_error("", code="invalid_api_key"), id="invalid_api_key-code-only"),
    ],
)
def test_openai_401_incorrect_api_key_means_invalid(check: Check, error: dict[str, Any]) -> None:
    result = check("openai", OPENAI, OPENAI_MODELS_URL, status=401, json=error)
    assert result.status is KeyStatus.INVALID
    assert not result.usable


def test_openai_429_insufficient_quota_means_no_credit(check: Check) -> None:
    result = check(
        "openai",
        OPENAI,
        OPENAI_MODELS_URL,
        status=429,
        json=openai_error(
            "You exceeded your current quota, please check your plan and billing details.",
            type_="insufficient_quota",
            code="insufficient_quota",
        ),
    )
    assert result.status is KeyStatus.NO_CREDIT
    assert result.http_status == 429


def test_openai_403_unsupported_country_leaves_key_unverified(check: Check) -> None:
    result = check(
        "openai",
        OPENAI,
        OPENAI_MODELS_URL,
        status=403,
        json=openai_error("Country, region, or territory not supported", code="unsupported_country_region_territory"),
    )
    assert result.status is KeyStatus.UNVERIFIED


# ---- Google Gemini --------------------------------------------------------------------------------


def gemini_error(code: int, status: str, message: str, reason: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if reason:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason, "domain": "googleapis.com"}
        ]
    return {"error": error}


def test_gemini_400_api_key_invalid_means_invalid(check: Check) -> None:
    result = check(
        "google",
        GOOGLE,
        GEMINI_MODELS_URL,
        status=400,
        json=gemini_error(
            400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.", "API_KEY_INVALID"
        ),
    )
    assert result.status is KeyStatus.INVALID
    assert result.http_status == 400


def test_gemini_400_without_api_key_invalid_is_not_read_as_a_bad_key(check: Check) -> None:
    result = check(
        "google",
        GOOGLE,
        GEMINI_MODELS_URL,
        status=400,
        json=gemini_error(400, "FAILED_PRECONDITION", "User location is not supported for the API use."),
    )
    assert result.status is KeyStatus.UNVERIFIED


def test_gemini_403_means_restricted(check: Check) -> None:
    result = check(
        "google",
        GOOGLE,
        GEMINI_MODELS_URL,
        status=403,
        json=gemini_error(
            403,
            "PERMISSION_DENIED",
            "Generative Language API has not been used in project 1234567890 before or it is disabled.",
            "SERVICE_DISABLED",
        ),
    )
    assert result.status is KeyStatus.RESTRICTED
    assert result.usable


def test_gemini_401_access_token_type_unsupported_means_invalid(check: Check) -> None:
    result = check(
        "google",
        GOOGLE,
        GEMINI_MODELS_URL,
        status=401,
        json=gemini_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
            "ACCESS_TOKEN_TYPE_UNSUPPORTED",
        ),
    )
    assert result.status is KeyStatus.INVALID


# ---- xAI ------------------------------------------------------------------------------------------

XAI_KEY_INFO = {
    "redacted_api_key": "xai-****abcd",
    "name": "production",
    "acls": ["api-key:model:*", "api-key:endpoint:*"],
    "team_blocked": False,
    "api_key_blocked": False,
    "api_key_disabled": False,
}


def test_xai_400_means_invalid(check: Check) -> None:
    result = check(
        "xai",
        XAI,
        XAI_KEY_URL,
        status=400,
        json={"code": "Client specified an invalid argument", "error": "Incorrect API key provided: xa***cd."},
    )
    assert result.status is KeyStatus.INVALID
    assert result.http_status == 400


@pytest.mark.parametrize("flag", ["api_key_blocked", "api_key_disabled", "team_blocked"])
def test_xai_200_with_a_blocked_or_disabled_flag_means_invalid(check: Check, flag: str) -> None:
    result = check("xai", XAI, XAI_KEY_URL, json={**XAI_KEY_INFO, flag: True})
    assert result.status is KeyStatus.INVALID
    assert flag in result.reason


def test_xai_200_with_every_flag_false_means_valid(check: Check) -> None:
    assert check("xai", XAI, XAI_KEY_URL, json=XAI_KEY_INFO).status is KeyStatus.VALID


# ---- Cloudflare -----------------------------------------------------------------------------------


@pytest.mark.parametrize("token_status", ["disabled", "expired"])
def test_cloudflare_200_with_token_status_other_than_active_means_invalid(check: Check, token_status: str) -> None:
    result = check(
        "cloudflare",
        CLOUDFLARE_USER,
        CLOUDFLARE_VERIFY_URL,
        json={"result": {"id": "ed17574386854bf78a67040be0a770b0", "status": token_status}, "success": True},
    )
    assert result.status is KeyStatus.INVALID
    assert token_status in result.reason


@pytest.mark.parametrize("status", [401, 403])
def test_cloudflare_401_or_403_means_invalid(check: Check, status: int) -> None:
    result = check(
        "cloudflare",
        CLOUDFLARE_USER,
        CLOUDFLARE_VERIFY_URL,
        status=status,
        json={"success": False, "errors": [{"code": 1000, "message": "Invalid API Token"}], "result": None},
    )
    assert result.status is KeyStatus.INVALID


def test_cloudflare_200_without_a_readable_result_leaves_token_unverified(check: Check) -> None:
    result = check("cloudflare", CLOUDFLARE_USER, CLOUDFLARE_VERIFY_URL, body="<html>Sign in to Wi-Fi</html>")
    assert result.status is KeyStatus.UNVERIFIED


# ---- Novita, DeepSeek, OpenRouter: no credit ----------------------------------------------------


def test_novita_403_not_enough_balance_means_no_credit(check: Check) -> None:
    result = check(
        "novita",
        NOVITA,
        NOVITA_MODELS_URL,
        status=403,
        json={"code": 403, "reason": "NOT_ENOUGH_BALANCE", "message": "not enough balance", "metadata": {}},
    )
    assert result.status is KeyStatus.NO_CREDIT
    assert result.usable


def test_novita_403_for_another_reason_means_restricted(check: Check) -> None:
    result = check(
        "novita",
        NOVITA,
        NOVITA_MODELS_URL,
        status=403,
        json={"code": 403, "reason": "PERMISSION_DENIED", "message": "permission denied", "metadata": {}},
    )
    assert result.status is KeyStatus.RESTRICTED


def test_deepseek_402_means_no_credit(check: Check) -> None:
    result = check(
        "deepseek",
        DEEPSEEK,
        DEEPSEEK_BALANCE_URL,
        status=402,
        json={"error": {"message": "Insufficient Balance", "type": "unknown_error", "param": None, "code": None}},
    )
    assert result.status is KeyStatus.NO_CREDIT
    assert result.http_status == 402


def test_deepseek_200_with_is_available_false_means_no_credit(check: Check) -> None:
    result = check(
        "deepseek",
        DEEPSEEK,
        DEEPSEEK_BALANCE_URL,
        json={
            "is_available": False,
            "balance_infos": [
                {"currency": "USD", "total_balance": "0.00", "granted_balance": "0.00", "topped_up_balance": "0.00"}
            ],
        },
    )
    assert result.status is KeyStatus.NO_CREDIT
    assert result.http_status == 200


def test_openrouter_402_means_no_credit(check: Check) -> None:
    result = check(
        "openrouter",
        OPENROUTER,
        OPENROUTER_KEY_URL,
        status=402,
        json={"error": {"message": "Insufficient credits. Add more using https://openrouter.ai/credits", "code": 402}},
    )
    assert result.status is KeyStatus.NO_CREDIT


def test_openrouter_403_budget_limit_means_no_credit(check: Check) -> None:
    result = check(
        "openrouter",
        OPENROUTER,
        OPENROUTER_KEY_URL,
        status=403,
        json={
            "error": {
                "message": "Key limit exceeded (total limit). Manage it using https://openrouter.ai/settings/keys",
                "code": 403,
            }
        },
    )
    assert result.status is KeyStatus.NO_CREDIT


# ---- AWS Bedrock error types ---------------------------------------------------------------------


def aws_error(error_type: str, message: str, where: str) -> dict[str, Any]:
    """An AWS error answer carrying its type in the x-amzn-ErrorType header or in the body's __type."""
    if where == "header":
        return {
            "json": {"message": message},
            "headers": {"x-amzn-ErrorType": f"{error_type}:http://internal.amazon.com/coral/com.amazon.coral.service/"},
        }
    return {"json": {"__type": f"com.amazon.coral.service#{error_type}", "message": message}}


WHERE = ["header", "body"]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("credential", [BEDROCK_IAM, BEDROCK_API_KEY], ids=["iam", "api-key"])
def test_bedrock_access_denied_means_restricted(check: Check, credential: dict[str, str], where: str) -> None:
    answer = aws_error(
        "AccessDeniedException",
        "User: arn:aws:iam::123456789012:user/app is not authorized to perform: bedrock:ListFoundationModels",
        where,
    )
    result = check("bedrock", credential, bedrock_url(credential), status=403, **answer)
    assert result.status is KeyStatus.RESTRICTED


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("error_type", ["UnrecognizedClientException", "InvalidClientTokenId"])
def test_bedrock_unrecognized_client_or_invalid_client_token_means_invalid(
    check: Check, error_type: str, where: str
) -> None:
    answer = aws_error(error_type, "The security token included in the request is invalid.", where)
    result = check("bedrock", BEDROCK_IAM, bedrock_url(BEDROCK_IAM), status=403, **answer)
    assert result.status is KeyStatus.INVALID
    assert error_type in result.reason


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("error_type", ["SignatureDoesNotMatch", "ExpiredTokenException"])
def test_bedrock_wrong_secret_or_expired_session_token_means_invalid(check: Check, error_type: str, where: str) -> None:
    answer = aws_error(error_type, "The request signature we calculated does not match.", where)
    result = check("bedrock", BEDROCK_IAM_TEMP, bedrock_url(BEDROCK_IAM_TEMP), status=403, **answer)
    assert result.status is KeyStatus.INVALID


@pytest.mark.parametrize("where", WHERE)
def test_bedrock_throttling_means_unverified(check: Check, where: str) -> None:
    answer = aws_error("ThrottlingException", "Too many requests, please wait before trying again.", where)
    answer["headers"] = {**answer.get("headers", {}), "Retry-After": "3"}
    result = check("bedrock", BEDROCK_IAM, bedrock_url(BEDROCK_IAM), status=429, **answer)
    assert result.status is KeyStatus.UNVERIFIED
    assert result.http_status == 429
    assert result.retry_after == 3


def test_bedrock_incomplete_signature_is_a_signing_problem_not_a_bad_key(check: Check) -> None:
    # providers.md: 400 IncompleteSignature = signing problem (ours), so the key is not rejected.
    answer = aws_error("IncompleteSignature", "Authorization header requires 'Signature' parameter.", "header")
    result = check("bedrock", BEDROCK_IAM, bedrock_url(BEDROCK_IAM), status=400, **answer)
    assert result.status is KeyStatus.UNVERIFIED


def test_bedrock_403_without_an_error_type_is_not_read_as_a_bad_key(check: Check) -> None:
    # providers.md: the status code alone is ambiguous, and a 403 is never a silent rejection.
    result = check("bedrock", BEDROCK_IAM, bedrock_url(BEDROCK_IAM), status=403, json={"message": "Forbidden"})
    assert result.status is KeyStatus.RESTRICTED
    assert result.usable


# ---- Cohere, Anthropic, billed providers, Databricks ------------------------------------------------


def test_cohere_200_valid_false_means_invalid(check: Check) -> None:
    result = check("cohere", COHERE, COHERE_CHECK_URL, method="POST", json={"valid": False})
    assert result.status is KeyStatus.INVALID
    assert result.http_status == 200


def test_cohere_200_without_a_readable_result_leaves_key_unverified(check: Check) -> None:
    result = check("cohere", COHERE, COHERE_CHECK_URL, method="POST", body="<html>Proxy login</html>")
    assert result.status is KeyStatus.UNVERIFIED


def test_anthropic_529_overloaded_means_unverified(check: Check) -> None:
    result = check(
        "anthropic",
        ANTHROPIC,
        ANTHROPIC_MODELS_URL,
        status=529,
        json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    assert result.status is KeyStatus.UNVERIFIED
    assert result.http_status == 529


def test_anthropic_403_permission_error_means_restricted(check: Check) -> None:
    result = check(
        "anthropic",
        ANTHROPIC,
        ANTHROPIC_MODELS_URL,
        status=403,
        json={
            "type": "error",
            "error": {"type": "permission_error", "message": "Your API key does not have permission."},
        },
    )
    assert result.status is KeyStatus.RESTRICTED


@pytest.mark.parametrize("status", [401, 403])
def test_perplexity_401_or_403_means_invalid(check: Check, status: int) -> None:
    result = check(
        "perplexity",
        PERPLEXITY,
        "https://api.perplexity.ai/chat/completions",
        method="POST",
        status=status,
        json={"error": {"message": "Invalid API key provided.", "type": "invalid_api_key", "code": status}},
    )
    assert result.status is KeyStatus.INVALID


@pytest.mark.parametrize("status", [401, 403])
def test_inflection_401_or_403_means_invalid(check: Check, status: int) -> None:
    result = check(
        "inflection",
        INFLECTION,
        "https://layercake.pubwestus3.inf7ks8.com/external/api/inference",
        method="POST",
        status=status,
        json={"detail": "Invalid API key"},
    )
    assert result.status is KeyStatus.INVALID


@pytest.mark.parametrize("status", [401, 403])
def test_databricks_401_or_403_means_invalid(check: Check, status: int) -> None:
    result = check(
        "databricks",
        DATABRICKS,
        DATABRICKS_ME_URL,
        status=status,
        json={"error_code": str(status), "message": "Invalid access token."},
    )
    assert result.status is KeyStatus.INVALID


# ---- Retry-After ---------------------------------------------------------------------------------


def test_retry_after_given_as_an_http_date_is_read_in_seconds(check: Check) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    result = check(
        "openai",
        OPENAI,
        OPENAI_MODELS_URL,
        status=429,
        json=openai_error("Rate limit reached for requests", type_="requests", code="rate_limit_exceeded"),
        headers={"Retry-After": when.strftime("%a, %d %b %Y %H:%M:%S GMT")},
    )
    assert result.status is KeyStatus.UNVERIFIED
    assert result.retry_after is not None
    assert 100 <= result.retry_after <= 120


# ---- redirects -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirect_from_a_fixed_provider_url_is_not_followed_and_leaves_key_unverified(
    provider_mock: responses.RequestsMock, status: int
) -> None:
    provider_mock.add(
        responses.GET, OPENAI_MODELS_URL, status=status, headers={"Location": "https://collector.example.net/models"}
    )
    adapter_cls = REGISTRY["openai"]
    result = validate(adapter_cls(OPENAI))
    assert len(provider_mock.calls) == 1, "the redirect must not be followed (it would carry the key)"
    assert result.status is KeyStatus.UNVERIFIED
    assert "redirect" in result.reason


def test_redirect_from_a_user_supplied_url_raises_unsafe_destination(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(
        responses.GET,
        AZURE_MODELS_URL,
        status=302,
        headers={"Location": "http://169.254.169.254/latest/meta-data/"},
    )
    adapter_cls = REGISTRY["azure"]
    with pytest.raises(http.UnsafeDestination, match="redirect"):
        validate(adapter_cls(adapter_cls.parse_credential(AZURE)))
    assert len(provider_mock.calls) == 1


# ---- base URL overrides --------------------------------------------------------------------------


def test_base_url_override_setting_changes_the_url_called(
    provider_mock: responses.RequestsMock, settings: Settings
) -> None:
    settings.BYOK_BASE_URL_OVERRIDES = {"openai": "http://127.0.0.1:9000/v1"}
    provider_mock.add(responses.GET, "http://127.0.0.1:9000/v1/models", json={"object": "list", "data": []})
    result = validate(REGISTRY["openai"](OPENAI))
    assert result.status is KeyStatus.VALID
    request = provider_mock.calls[0].request
    assert request.url == "http://127.0.0.1:9000/v1/models"
    assert request.headers["Authorization"] == f"Bearer {OPENAI}"


def test_byok_openai_base_url_environment_variable_changes_the_url_called(
    provider_mock: responses.RequestsMock, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.BYOK_BASE_URL_OVERRIDES = {}
    monkeypatch.setenv("BYOK_OPENAI_BASE_URL", "http://127.0.0.1:9000/v1/")
    provider_mock.add(responses.GET, "http://127.0.0.1:9000/v1/models", json={"object": "list", "data": []})
    assert validate(REGISTRY["openai"](OPENAI)).status is KeyStatus.VALID
    assert provider_mock.calls[0].request.url == "http://127.0.0.1:9000/v1/models"


# ---- AWS SigV4 -----------------------------------------------------------------------------------

AUTHORIZATION_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key_id>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)/(?P<service>[a-z0-9-]+)"
    r"/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})"
)


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), hashlib.sha256).digest()


def sigv4_signature(request: requests.PreparedRequest, *, secret: str, region: str, service: str) -> str:
    """The SigV4 signature of ``request`` computed from the AWS specification (independently of botocore)."""
    match = AUTHORIZATION_RE.fullmatch(request.headers["Authorization"])
    assert match is not None
    amz_date = request.headers["X-Amz-Date"]
    signed = match["signed"]
    parts = urlsplit(request.url or "")
    query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, _, v in sorted(item.partition("=") for item in parts.query.split("&") if item)
    )
    canonical_headers = "".join(f"{name}:{' '.join(request.headers[name].split())}\n" for name in signed.split(";"))
    body = request.body or b""
    payload_hash = hashlib.sha256(body if isinstance(body, bytes) else body.encode()).hexdigest()
    canonical_request = "\n".join(
        [request.method or "", quote(parts.path or "/", safe="/-_.~"), query, canonical_headers, signed, payload_hash]
    )
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = _hmac(("AWS4" + secret).encode(), amz_date[:8])
    for part in (region, service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


@pytest.fixture
def signed_request(provider_mock: responses.RequestsMock) -> Callable[[dict[str, str]], requests.PreparedRequest]:
    """Validate Bedrock IAM credentials against a 200 and return the request that was sent."""

    def _send(credential: dict[str, str]) -> requests.PreparedRequest:
        provider_mock.add(responses.GET, bedrock_url(credential), json={"modelSummaries": []})
        adapter_cls = REGISTRY["bedrock"]
        assert validate(adapter_cls(adapter_cls.parse_credential(credential))).status is KeyStatus.VALID
        return provider_mock.calls[0].request

    return _send


IAM_CREDENTIALS = [pytest.param(BEDROCK_IAM, id="long-term"), pytest.param(BEDROCK_IAM_TEMP, id="temporary")]


@pytest.mark.parametrize("credential", IAM_CREDENTIALS)
def test_bedrock_iam_credentials_are_sent_with_a_correct_sigv4_signature(
    signed_request: Callable[[dict[str, str]], requests.PreparedRequest], credential: dict[str, str]
) -> None:
    request = signed_request(credential)
    match = AUTHORIZATION_RE.fullmatch(request.headers["Authorization"])
    assert match is not None
    expected = sigv4_signature(
        request, secret=credential["secret_access_key"], region=credential["region"], service="bedrock"
    )
    assert match["signature"] == expected
    # The check could fail: another secret gives another signature.
    wrong = sigv4_signature(request, secret="x" * 40, region=credential["region"], service="bedrock")
    assert match["signature"] != wrong


@pytest.mark.parametrize("credential", IAM_CREDENTIALS)
def test_bedrock_sigv4_credential_scope_names_key_id_date_region_and_bedrock(
    signed_request: Callable[[dict[str, str]], requests.PreparedRequest], credential: dict[str, str]
) -> None:
    request = signed_request(credential)
    amz_date = request.headers["X-Amz-Date"]
    signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - signed_at) < timedelta(minutes=5)
    scope = f"Credential={credential['access_key_id']}/{amz_date[:8]}/{credential['region']}/bedrock/aws4_request"
    assert scope in request.headers["Authorization"]
    signed = AUTHORIZATION_RE.fullmatch(request.headers["Authorization"])
    assert signed is not None
    assert {"host", "x-amz-date"} <= set(signed["signed"].split(";"))
    assert request.headers["Host"] == f"bedrock.{credential['region']}.amazonaws.com"


def test_bedrock_session_token_is_sent_as_x_amz_security_token_and_signed(
    signed_request: Callable[[dict[str, str]], requests.PreparedRequest],
) -> None:
    request = signed_request(BEDROCK_IAM_TEMP)
    assert request.headers["X-Amz-Security-Token"] == BEDROCK_IAM_TEMP["session_token"]
    signed = AUTHORIZATION_RE.fullmatch(request.headers["Authorization"])
    assert signed is not None
    assert "x-amz-security-token" in signed["signed"].split(";")


def test_bedrock_long_term_iam_key_sends_no_session_token(
    signed_request: Callable[[dict[str, str]], requests.PreparedRequest],
) -> None:
    assert "X-Amz-Security-Token" not in signed_request(BEDROCK_IAM).headers


def test_bedrock_api_key_is_sent_as_bearer_without_a_signature(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(responses.GET, bedrock_url(BEDROCK_API_KEY), json={"modelSummaries": []})
    adapter_cls = REGISTRY["bedrock"]
    assert validate(adapter_cls(adapter_cls.parse_credential(BEDROCK_API_KEY))).status is KeyStatus.VALID
    request = provider_mock.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {BEDROCK_API_KEY['bedrock_api_key']}"
    assert "X-Amz-Date" not in request.headers


def test_botocore_signing_dumps_never_reach_the_logs(
    signed_request: Callable[[dict[str, str]], requests.PreparedRequest], caplog: pytest.LogCaptureFixture
) -> None:
    """botocore logs the canonical request (with X-Amz-Security-Token) and the signature at DEBUG."""
    caplog.set_level(logging.DEBUG)
    request = signed_request(BEDROCK_IAM_TEMP)
    assert BEDROCK_IAM_TEMP["session_token"] not in caplog.text
    assert "CanonicalRequest" not in caplog.text
    match = AUTHORIZATION_RE.fullmatch(request.headers["Authorization"])
    assert match is not None
    assert match["signature"] not in caplog.text
