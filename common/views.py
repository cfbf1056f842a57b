"""Error pages: JSON for the API paths (so clients always get the documented error shape), Django's
own pages elsewhere. Neither ever includes request data."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

API_PREFIXES = ("/api/", "/v1/")


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"success": False, "error": f"No endpoint at {request.path}; see /api/docs/.", "code": "not_found"},
            status=404,
        )
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(
            {"success": False, "error": "Internal server error; it has been logged.", "code": "server_error"},
            status=500,
        )
    return defaults.server_error(request)
