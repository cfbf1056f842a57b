"""One reading of a provider's answer: the verdict.

An adapter reads each answer (status, body, headers) in one place, ``ProviderAdapter.read_answer``,
into one ``Verdict``. Each caller derives its own outcome from it, so no provider's error table is
written twice:

- validation (``providers.validation``): the key status (``None`` reads as unverified), the reason and
  ``Retry-After``;
- chat (``providers.chat.send_chat``): nothing for a 2xx, else the ``Upstream*`` error named by
  ``error``, with ``message``; the error carries the verdict (``UpstreamError.verdict``);
- the gateway: the key status to record (``verdict.key_status``) and whether another key might succeed
  (``verdict.failover``).

Where validation and chat read one answer differently, the verdict holds both facts: a 429 is
"nothing learnt about the key" (validation: unverified) and "rate limited, try another key" (chat).

The cross-provider rule, where every adapter starts:

| answer                       | key status | chat error (failover)        | temporary |
|------------------------------|------------|------------------------------|-----------|
| 2xx (+ provider body check)  | valid      | none                         |           |
| 401                          | invalid    | upstream_auth_failed (yes)   |           |
| 402, 429 insufficient_quota  | no_credit  | upstream_no_credit (yes)     |           |
| 403                          | restricted | upstream_auth_failed (yes)   |           |
| 429                          | none       | upstream_rate_limited (yes)  | yes       |
| 400, 404, 410, 413, 422      | none       | upstream_bad_request (no)    |           |
| 5xx, 529                     | none       | upstream_error (no)          | yes       |
| anything else                | none       | upstream_error (no)          |           |

Timeouts and network errors give no answer to read: validation reports them as unverified, chat as
``upstream_timeout`` / ``upstream_error``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

import requests

from providers import http


class KeyStatus(StrEnum):
    VALID = "valid"
    INVALID = "invalid"
    RESTRICTED = "restricted"
    NO_CREDIT = "no_credit"
    # What validation reports when the answer says nothing about the key (a verdict's ``None``).
    UNVERIFIED = "unverified"


class ChatErrorCode(StrEnum):
    """The ``Upstream*`` error a chat call raises, by its stable code (``providers.chat`` maps the code
    to the class; the classes sit above this module)."""

    FAILED = "upstream_error"
    AUTH_FAILED = "upstream_auth_failed"
    NO_CREDIT = "upstream_no_credit"
    RATE_LIMITED = "upstream_rate_limited"
    BAD_REQUEST = "upstream_bad_request"
    TIMEOUT = "upstream_timeout"


# Errors after which another key might succeed: this key is refused, out of credit or rate limited.
FAILOVER_ERRORS = frozenset({ChatErrorCode.AUTH_FAILED, ChatErrorCode.NO_CREDIT, ChatErrorCode.RATE_LIMITED})


@dataclass(frozen=True)
class Verdict:
    """What one provider answer means. Texts never contain a credential (see ``redacted``)."""

    # What the answer says about the key: valid, invalid, restricted, no_credit; None = nothing learnt.
    key_status: KeyStatus | None
    # A sentence about the key for the person who stored it (the validation reason).
    reason: str
    # The chat error to raise; None for an answer that is not an error (a 2xx).
    error: ChatErrorCode | None = None
    # The chat error's message.
    message: str = ""
    # The provider's HTTP status (None when no HTTP answer was read, e.g. an error event mid-stream).
    http_status: int | None = None
    # The status the chat error reports when it is not ``http_status``: a refused key is reported as 401
    # even where the provider says 400 (Google) or 403 (AWS).
    reported_status: int | None = None
    # Seconds from ``Retry-After`` on a rate-limited answer (None if the provider did not say).
    retry_after: int | None = None
    # A temporary condition on the provider's side (rate limit, overload, 5xx): retrying later may work.
    temporary: bool = False

    @property
    def failover(self) -> bool:
        """Whether another key might succeed where this one failed."""
        return self.error in FAILOVER_ERRORS

    @property
    def upstream_status(self) -> int | None:
        """The status the chat error reports."""
        return self.reported_status if self.reported_status is not None else self.http_status

    def redacted(self, redact: Callable[[str], str]) -> Verdict:
        return replace(self, reason=redact(self.reason), message=redact(self.message))


# ---- one constructor per outcome -----------------------------------------------------------------


def accepted(reason: str, *, http_status: int | None) -> Verdict:
    return Verdict(KeyStatus.VALID, reason, http_status=http_status)


def refused(
    key_status: KeyStatus | None,
    reason: str,
    *,
    message: str = "",
    http_status: int | None,
    reported_status: int | None = None,
) -> Verdict:
    """The provider refused this key (``upstream_auth_failed``; another key may succeed)."""
    return Verdict(
        key_status,
        reason,
        ChatErrorCode.AUTH_FAILED,
        message or reason,
        http_status=http_status,
        reported_status=reported_status,
    )


def out_of_credit(reason: str, *, message: str = "", http_status: int | None) -> Verdict:
    return Verdict(KeyStatus.NO_CREDIT, reason, ChatErrorCode.NO_CREDIT, message or reason, http_status=http_status)


def rate_limited(reason: str, *, message: str = "", http_status: int | None, retry_after: int | None) -> Verdict:
    """Rate limited: nothing learnt about the key, but another key may get through."""
    return Verdict(
        None,
        reason,
        ChatErrorCode.RATE_LIMITED,
        message or reason,
        http_status=http_status,
        retry_after=retry_after,
        temporary=True,
    )


def bad_request(reason: str, *, message: str = "", http_status: int | None) -> Verdict:
    """The request was wrong (unknown model, bad parameters), not the key: the provider's message."""
    return Verdict(None, reason, ChatErrorCode.BAD_REQUEST, message or reason, http_status=http_status)


def failed(reason: str, *, message: str = "", http_status: int | None, temporary: bool = False) -> Verdict:
    """The provider failed; nothing learnt about the key."""
    return Verdict(None, reason, ChatErrorCode.FAILED, message or reason, http_status=http_status, temporary=temporary)


def stream_failure(provider_name: str, detail: object) -> Verdict:
    """An error event after a 2xx stream started (no HTTP status; too late to try another key)."""
    return failed(f"{provider_name} failed during the stream: {detail or 'unknown error'}.", http_status=None)


# ---- the cross-provider rule --------------------------------------------------------------------

BAD_REQUEST_STATUSES = frozenset({400, 404, 410, 413, 422})


def cross_provider_verdict(response: requests.Response, *, provider_name: str) -> Verdict:
    """The rule in the module docstring; adapters add their provider's own rows on top of it."""
    code = response.status_code
    detail = http.body_text(response)
    suffix = f" ({detail})" if detail else ""
    shown = detail or f"HTTP {code}"
    if 200 <= code < 300:
        return accepted(f"{provider_name} accepted the key.", http_status=code)
    if code == 401:
        return refused(
            KeyStatus.INVALID,
            f"{provider_name} rejected the key as invalid or revoked{suffix}. Create a new key.",
            message=f"{provider_name} refused the key ({code}: {shown}).",
            http_status=code,
        )
    if code == 402 or (code == 429 and "insufficient_quota" in response.text):
        return out_of_credit(
            f"The key is valid but the {provider_name} account has no credit{suffix}."
            if code == 402
            else f"The key is valid but the {provider_name} account is out of quota.",
            message=f"{provider_name} reports no credit for this key ({code}: {shown}).",
            http_status=code,
        )
    if code == 403:
        return refused(
            KeyStatus.RESTRICTED,
            f"{provider_name} recognised the key but refused this request{suffix}; the key may lack a "
            "permission, region or API enablement.",
            message=f"{provider_name} refused the key ({code}: {shown}).",
            http_status=code,
        )
    if code == 429:
        return rate_limited(
            f"{provider_name} is rate-limiting requests; the key could not be checked now. Try again later.",
            message=f"{provider_name} is rate-limiting this key ({shown}).",
            http_status=code,
            retry_after=http.retry_after_seconds(response),
        )
    if code >= 500:
        return failed(
            f"{provider_name} had a temporary error ({code}); try again later.",
            message=f"{provider_name} failed ({code}: {shown}).",
            http_status=code,
            temporary=True,
        )
    unchecked = (
        f"{provider_name} answered {code}{suffix}; the key could not be checked. Check the configuration "
        "(URL, region, account) and try again."
    )
    if code in BAD_REQUEST_STATUSES:
        return bad_request(unchecked, message=f"{provider_name}: {shown}", http_status=code)
    return failed(unchecked, message=f"{provider_name} failed ({code}: {shown}).", http_status=code)
