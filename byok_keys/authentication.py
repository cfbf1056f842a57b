"""``Authorization: Bearer <API token>`` for DRF."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from byok_keys.services import api_token_authenticate


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
