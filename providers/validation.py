"""Live validation: each provider's cheapest authenticated request, read into the adapter's verdict
(``providers.verdict``: the cross-provider rule plus the provider's own rows).

The key status is the verdict's; an answer that says nothing about the key (a rate limit, a 5xx, an
unexpected status), a timeout or a network error leave the key ``unverified``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from providers import http
from providers.base import ProviderAdapter
from providers.verdict import KeyStatus, Verdict

__all__ = ["BILLED_REASON", "KeyStatus", "ValidationResult", "invalid", "valid", "validate"]


@dataclass(frozen=True)
class ValidationResult:
    status: KeyStatus
    reason: str
    http_status: int | None = None
    retry_after: int | None = None

    @property
    def usable(self) -> bool:
        return self.status is not KeyStatus.INVALID

    @classmethod
    def of(cls, verdict: Verdict) -> ValidationResult:
        """What a validation reports for a verdict: nothing learnt about the key is ``unverified``."""
        return cls(verdict.key_status or KeyStatus.UNVERIFIED, verdict.reason, verdict.http_status, verdict.retry_after)


def valid(reason: str = "The provider accepted the key.", code: int | None = 200) -> ValidationResult:
    return ValidationResult(KeyStatus.VALID, reason, code)


def invalid(reason: str, code: int | None = None) -> ValidationResult:
    return ValidationResult(KeyStatus.INVALID, reason, code)


BILLED_REASON = (
    "{name} keys can only be checked with a billed request, so only the format was checked. "
    "An operator can set BYOK_ALLOW_BILLED_VALIDATION=true to check them."
)


def validate(adapter: ProviderAdapter) -> ValidationResult:
    """Run ``adapter``'s validation request and read the answer; the reason never contains the key.

    Network trouble is an ``unverified`` result; only ``http.UnsafeDestination`` (SSRF guard) raises.
    """
    with adapter.scrubbed_errors():
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
    except http.ProviderUnavailable as exc:  # timeouts included
        return ValidationResult(KeyStatus.UNVERIFIED, f"{exc} The key could not be checked; try again later.")
    except http.ProviderHTTPError as exc:
        return ValidationResult(KeyStatus.UNVERIFIED, str(exc))
    with response:
        return ValidationResult.of(adapter.verdict(response))
