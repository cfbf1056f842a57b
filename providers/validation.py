"""Live validation: each provider's cheapest authenticated request, read by the cross-provider rule
(``shared/providers.md``) and the provider's own overrides.

| answer                       | result                                   |
|------------------------------|------------------------------------------|
| 2xx (+ provider body check)  | valid                                    |
| 401                          | invalid                                  |
| 403                          | restricted (valid key lacking a scope)   |
| 402, 429 insufficient_quota  | no_credit                                |
| 429                          | unverified (rate limited; retry later)   |
| 5xx, 529, timeout, network   | unverified (nothing known)               |
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings

from providers import http

if TYPE_CHECKING:
    from providers.base import ProviderAdapter


class KeyStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    RESTRICTED = "restricted"
    NO_CREDIT = "no_credit"
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class ValidationResult:
    status: KeyStatus
    reason: str
    http_status: int | None = None
    retry_after: int | None = None

    @property
    def usable(self) -> bool:
        return self.status is not KeyStatus.INVALID


def valid(reason: str = "The provider accepted the key.", code: int | None = 200) -> ValidationResult:
    return ValidationResult(KeyStatus.VALID, reason, code)


def invalid(reason: str, code: int | None = None) -> ValidationResult:
    return ValidationResult(KeyStatus.INVALID, reason, code)


def body_text(response: requests.Response) -> str:
    """A short, credential-free excerpt of an error body for reasons (providers never echo keys whole,
    but they may echo a prefix, so it is masked anyway)."""
    from common.masking import mask_secrets

    data = http.json_or_empty(response)
    message: Any = None
    if isinstance(data, dict):
        error = data.get("error", data)
        if isinstance(error, dict):
            message = error.get("message") or error.get("code") or error.get("type")
        elif isinstance(error, str):
            message = error
        message = message or data.get("message") or data.get("detail")
        if isinstance(message, list):
            message = "; ".join(str(item) for item in message)
    text = str(message) if message else response.text[:200]
    return mask_secrets(" ".join(text.split()))[:200]


def default_interpretation(response: requests.Response, *, provider_name: str) -> ValidationResult:
    """The cross-provider rule."""
    code = response.status_code
    detail = body_text(response)
    suffix = f" ({detail})" if detail else ""
    if 200 <= code < 300:
        return valid(f"{provider_name} accepted the key.", code)
    if code == 401:
        return invalid(f"{provider_name} rejected the key as invalid or revoked{suffix}. Create a new key.", code)
    if code == 402:
        return ValidationResult(
            KeyStatus.NO_CREDIT,
            f"The key is valid but the {provider_name} account has no credit{suffix}.",
            code,
        )
    if code == 403:
        return ValidationResult(
            KeyStatus.RESTRICTED,
            f"{provider_name} recognised the key but refused this request{suffix}; the key may lack a "
            "permission, region or API enablement.",
            code,
        )
    if code == 429:
        if "insufficient_quota" in response.text:
            return ValidationResult(
                KeyStatus.NO_CREDIT,
                f"The key is valid but the {provider_name} account is out of quota.",
                code,
            )
        return ValidationResult(
            KeyStatus.UNVERIFIED,
            f"{provider_name} is rate-limiting requests; the key could not be checked now. Try again later.",
            code,
            http.retry_after_seconds(response),
        )
    if code >= 500:
        return ValidationResult(
            KeyStatus.UNVERIFIED, f"{provider_name} had a temporary error ({code}); try again later.", code
        )
    return ValidationResult(
        KeyStatus.UNVERIFIED,
        f"{provider_name} answered {code}{suffix}; the key could not be checked. Check the configuration "
        "(URL, region, account) and try again.",
        code,
    )


BILLED_REASON = (
    "{name} keys can only be checked with a billed request, so only the format was checked. "
    "An operator can set BYOK_ALLOW_BILLED_VALIDATION=true to check them."
)


def validate(adapter: ProviderAdapter) -> ValidationResult:
    """Run ``adapter``'s validation request and read the answer; the reason never contains the key.

    Network trouble is an ``unverified`` result; only ``http.UnsafeDestination`` (SSRF guard) raises.
    """
    result = _validate(adapter)
    reason = adapter.redact(result.reason)
    if reason == result.reason:
        return result
    return ValidationResult(result.status, reason, result.http_status, result.retry_after)


def _validate(adapter: ProviderAdapter) -> ValidationResult:
    spec = adapter.spec
    if spec.validation_billed and not settings.BYOK_ALLOW_BILLED_VALIDATION:
        return ValidationResult(KeyStatus.UNVERIFIED, BILLED_REASON.format(name=spec.name))
    request = adapter.validation_request()
    if request is None:
        return ValidationResult(KeyStatus.UNVERIFIED, f"{spec.name} offers no way to check a key; format checked only.")
    try:
        response = http.send(request)
    except http.UnsafeDestination:
        raise  # a refused destination is the caller's error to report (400 unsafe_url), not a key status
    except http.ProviderTimeout as exc:
        return ValidationResult(KeyStatus.UNVERIFIED, f"{exc} The key could not be checked; try again later.")
    except http.ProviderUnavailable as exc:
        return ValidationResult(KeyStatus.UNVERIFIED, f"{exc} The key could not be checked; try again later.")
    except http.ProviderHTTPError as exc:
        return ValidationResult(KeyStatus.UNVERIFIED, str(exc))
    with response:
        return adapter.interpret_validation(response)
