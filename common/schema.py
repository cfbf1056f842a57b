"""OpenAPI response declarations: the success serializer (which also renders the body) and the
errors an operation can answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse

from common.serializers import ErrorSerializer

COMMON_ERRORS = (400, 401, 403, 404)


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(ErrorSerializer, description=_ERROR_TEXT.get(status, "")) for status in statuses}


def responses(ok: Any, *, status: int = 200, extra: tuple[int, ...] = (), common: bool = True) -> dict[int, Any]:
    """``ok`` (a serializer class) for ``status``, plus the usual errors and ``extra`` ones."""
    return {status: ok, **errors(*(COMMON_ERRORS if common else ()), *extra)}


_ERROR_TEXT = {
    400: "Bad input: the message says what to fix; `code` is stable.",
    401: "No token, or an unknown, revoked or expired one.",
    403: "Not allowed (or BYOK is turned off: `byok_disabled`).",
    404: "Not found; another user's or group's object is a 404 too.",
    409: "Conflict with the stored state.",
    413: "The request body is larger than BYOK_MAX_BODY_BYTES.",
    429: "A rate limit was reached; see Retry-After.",
    502: "The provider failed or refused the key.",
    504: "The provider did not answer in time.",
}
