"""``Authorization: Bearer <API token>`` for DRF."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request

from byok_keys.services import api_token_authenticate, api_token_grant
from common import ratelimit
from common.errors import ServiceError

TOKEN_REFUSED = (
    "The API token is unknown, revoked or expired; create a new one "
    "(python manage.py create_api_token USERNAME, or in the admin)."
)
REALM = 'Bearer realm="api"'


class TooManyFailures(exceptions.Throttled):
    default_detail = "Too many failed sign-ins or unknown tokens from this address."

    def __init__(self, wait: int) -> None:
        super().__init__(
            wait=wait, detail=f"Too many failed sign-ins or unknown API tokens from this address; retry in {wait} s."
        )


class TokenRefused(ServiceError):
    """The 401 for a token found revoked, expired or gone (or its user deactivated) after it was let in
    from the cache: the same answer as ``BearerTokenAuthentication`` gives."""

    status = 401
    code = "invalid_token"

    def __init__(self) -> None:
        super().__init__(TOKEN_REFUSED, headers={"WWW-Authenticate": REALM})


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <API token>``, read from the database on every request; or, with
    ``cached=True`` (the gateway's call endpoints only, ``hot_path_authenticators``), from the in-process
    cache.

    A cached token comes as a ``TokenGrant`` (``request.auth``) that may predate a revocation made since
    on another process: the gateway's admission checks its version, in the round trip that counts the
    caller's rate limits, before any provider is called, and answers ``TokenRefused`` if it no longer
    holds. A view that does not make that check must not use the cached form.
    """

    keyword = "Bearer"

    def __init__(self, *, cached: bool = False) -> None:
        self.cached = cached

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        value = value.strip()
        if not value:
            raise exceptions.AuthenticationFailed("The Authorization header has no token after 'Bearer'.")
        found = self._grant(value) if self.cached else self._token(value)
        if found is None:
            # Many unknown tokens from one address: 429 instead of 401 from then on (a valid token from
            # the same address still works; a token has 256 bits, this stops the hammering).
            ip = request.META.get("REMOTE_ADDR", "")
            per_ip = ratelimit.configured_rate(settings.BYOK_AUTH_FAILURES_PER_IP, "BYOK_AUTH_FAILURES_PER_IP")
            if per_ip is not None and ratelimit.failure_count(scope="ip", ident=ip, rate=per_ip) >= per_ip.limit:
                raise TooManyFailures(ratelimit.retry_after(per_ip))
            ratelimit.record_failure(scope="ip", ident=ip, rate=per_ip)
            raise exceptions.AuthenticationFailed(TOKEN_REFUSED)
        return found

    @staticmethod
    def _token(plaintext: str) -> tuple[Any, Any] | None:
        token = api_token_authenticate(plaintext=plaintext)
        if token is None or not token.user.is_active:
            return None
        return token.user, token

    @staticmethod
    def _grant(plaintext: str) -> tuple[Any, Any] | None:
        grant = api_token_grant(plaintext=plaintext)
        return (grant.user, grant) if grant is not None else None

    def authenticate_header(self, request: Request) -> str:
        return REALM


def hot_path_authenticators() -> list[authentication.BaseAuthentication]:
    """For the gateway's call endpoints (``get_authenticators``): a token from the cache, checked on
    admission, or the page's session."""
    return [BearerTokenAuthentication(cached=True), SessionAuthentication()]


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "byok_keys.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "byokt_<lookup>.<secret>"}
