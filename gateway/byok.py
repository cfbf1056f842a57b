"""The reusable piece that makes a view BYOK-aware, as the legacy docs describe their middleware
(``requireAPIKey`` → ``injectBYOKKeys`` → ``loadWithBYOK``): DRF authenticates, then this mixin
resolves the caller's key for the view's provider and hands the view ``request.byok``.

``request.byok.credential`` is a *handle* (``KeyCandidate``), never plaintext: the secret is decrypted
only inside the adapter made for one call (``make_adapter()``), so no shared or long-lived object
ever holds a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.response import Response

from gateway import ratelimit, resolution
from gateway.resolution import KeyCandidate
from groups.models import User


@dataclass(frozen=True)
class ByokContext:
    provider: str
    group: str | None
    candidates: tuple[KeyCandidate, ...]

    @property
    def credential(self) -> KeyCandidate:
        """The key that would serve first (a handle; decrypted only in the adapter)."""
        return self.candidates[0]

    @property
    def is_byok(self) -> bool:
        return self.credential.is_byok

    @property
    def source(self) -> str:
        return self.credential.source

    @property
    def key_id(self) -> str:
        return self.credential.key_id


def user_rate_limit(user: User) -> None:
    ratelimit.hit(
        scope="user",
        ident=str(user.pk),
        rate=ratelimit.configured_rate(settings.BYOK_RATE_LIMIT_USER, "BYOK_RATE_LIMIT_USER"),
        code="rate_limit_user",
        what="your account (BYOK_RATE_LIMIT_USER)",
    )


def key_rate_limit(candidate: KeyCandidate) -> None:
    ratelimit.hit(
        scope="key",
        ident=candidate.key_id,
        rate=ratelimit.configured_rate(settings.BYOK_RATE_LIMIT_KEY, "BYOK_RATE_LIMIT_KEY"),
        code="rate_limit_key",
        what=f"the key {candidate.key_id} (BYOK_RATE_LIMIT_KEY)",
    )


class ByokMixin:
    """Mix into a DRF ``APIView`` and implement ``byok_target``; the view then finds ``request.byok``
    and answers carry ``X-BYOK-Key-Source``."""

    def byok_target(self, request: Request) -> tuple[str, str | None]:
        """(provider id, group id or None) for this request."""
        raise NotImplementedError

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]  # authentication, permissions
        user: User = request.user  # type: ignore[assignment]
        user_rate_limit(user)
        provider, group = self.byok_target(request)
        group = group or request.headers.get("X-BYOK-Group") or None
        candidates = resolution.resolve_or_raise(user=user, provider=provider, group_slug=group)
        request.byok = ByokContext(provider=provider, group=group, candidates=tuple(candidates))  # type: ignore[attr-defined]

    def handle_exception(self, exc: Exception) -> Any:
        # A failed call still says which key was tried last.
        attempts = getattr(exc, "attempts", None)
        if attempts:
            mark_served(self.request, attempts[-1].candidate)  # type: ignore[attr-defined]
        return super().handle_exception(exc)  # type: ignore[misc]

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        served = getattr(request, "byok_served", None)
        if served is not None:
            response["X-BYOK-Key-Source"] = str(served.source)
            response["X-BYOK-Key-Id"] = served.key_id
        return response


def mark_served(request: Request, candidate: KeyCandidate) -> None:
    request.byok_served = candidate  # type: ignore[attr-defined]


__all__ = ["ByokContext", "ByokMixin", "Response", "key_rate_limit", "mark_served", "user_rate_limit"]
