"""The API's error shape: ``{success: false, error, code}`` with the right status, for every error."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback

from common.errors import ServiceError


def error_response(
    message: str,
    *,
    code: str,
    http_status: int,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    body: dict[str, Any] = {"success": False, "error": message, "code": code, **(extra or {})}
    return Response(body, status=http_status, headers=headers)


def _first_message(detail: Any) -> str:
    """Flatten DRF validation details into one readable sentence."""
    if isinstance(detail, dict):
        parts = []
        for field, value in detail.items():
            text = _first_message(value)
            parts.append(text if field in ("non_field_errors", "detail") else f"{field}: {text}")
        return " ".join(parts)
    if isinstance(detail, list):
        return " ".join(_first_message(item) for item in detail)
    return str(detail)


_DRF_CODES: list[tuple[type[exceptions.APIException], str, str | None]] = [
    (
        exceptions.NotAuthenticated,
        "not_authenticated",
        "Authentication required: send 'Authorization: Bearer <API token>' or sign in.",
    ),
    (exceptions.AuthenticationFailed, "invalid_token", None),
    (exceptions.PermissionDenied, "forbidden", None),
    (exceptions.NotFound, "not_found", None),
    (exceptions.ParseError, "malformed_json", None),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", None),
    (exceptions.MethodNotAllowed, "method_not_allowed", None),
    (exceptions.Throttled, "rate_limited", None),
    (exceptions.ValidationError, "invalid_request", None),
]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ServiceError):
        set_rollback()
        return error_response(exc.message, code=exc.code, http_status=exc.status, headers=exc.headers, extra=exc.extra)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    set_rollback()
    code = "error"
    message = _first_message(exc.detail)
    for klass, klass_code, fixed_message in _DRF_CODES:
        if isinstance(exc, klass):
            code = klass_code
            message = fixed_message or message
            break
    if isinstance(exc, exceptions.ParseError):
        message = f"The request body is not valid JSON ({message}). Send a JSON object."
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    return error_response(message, code=code, http_status=exc.status_code, headers=headers)


class ByokAPIView(APIView):
    """Base for every ``/api/byok/`` endpoint: honours ``ENABLE_BYOK=false``."""

    byok_feature = True

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if self.byok_feature and not settings.ENABLE_BYOK:
            raise ServiceError(
                "Bring-your-own-key is turned off on this server (ENABLE_BYOK=false); ask the operator.",
                code="byok_disabled",
                status=403,
            )
        super().initial(request, *args, **kwargs)

    @property
    def caller(self) -> Any:
        """The authenticated user (the default permission class guarantees one)."""
        return self.request.user


def parse_body(serializer_cls: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """Validate a JSON object body with ``serializer_cls``; a non-object body is a 400."""
    if not isinstance(request.data, dict):  # a JSON null too: the schema documents an object
        raise ServiceError("The request body must be a JSON object.", code="invalid_request")
    serializer = serializer_cls(data=request.data or {})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
