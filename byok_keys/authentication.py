"""``Authorization: Bearer <API token>`` for DRF."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from byok_keys.services import api_token_authenticate
from common import ratelimit


class TooManyFailures(exceptions.Throttled):
    default_detail = "Too many failed sign-ins or unknown tokens from this address."

    def __init__(self, wait: int) -> None:
        super().__init__(
            wait=wait, detail=f"Too many failed sign-ins or unknown API tokens from this address; retry in {wait} s."
        )


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

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
        token = api_token_authenticate(plaintext=value)
        if token is None or not token.user.is_active:
            # Many unknown tokens from one address: 429 instead of 401 from then on (a valid token from
            # the same address still works; a token has 256 bits, this stops the hammering).
            ip = request.META.get("REMOTE_ADDR", "")
            per_ip = ratelimit.configured_rate(settings.BYOK_AUTH_FAILURES_PER_IP, "BYOK_AUTH_FAILURES_PER_IP")
            if per_ip is not None and ratelimit.failure_count(scope="ip", ident=ip, rate=per_ip) >= per_ip.limit:
                raise TooManyFailures(ratelimit.retry_after(per_ip))
            ratelimit.record_failure(scope="ip", ident=ip, rate=per_ip)
            raise exceptions.AuthenticationFailed(
                "The API token is unknown, revoked or expired; create a new one "
                "(python manage.py create_api_token USERNAME, or in the admin)."
            )
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "byok_keys.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "byokt_<lookup>.<secret>"}
