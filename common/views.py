"""Error pages: JSON for the API paths (so clients always get the documented error shape), Django's
own pages elsewhere. Neither ever includes request data."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults

API_PREFIXES = ("/api/", "/v1/")


def _is_api(request: HttpRequest) -> bool:
    return is_api_path(request.path)


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def api_not_found(request: HttpRequest) -> JsonResponse:
    """The API's 404 body; a trailing slash gets a hint (API paths have none)."""
    hint = ""
    if request.path.endswith("/") and len(request.path) > 1:
        try:
            resolve(request.path.rstrip("/"))
            hint = f" API paths have no trailing slash: use {request.path.rstrip('/')}."
        except Resolver404:
            pass
    return JsonResponse(
        {"success": False, "error": f"No endpoint at {request.path}; see /api/docs/.{hint}", "code": "not_found"},
        status=404,
    )


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return api_not_found(request)
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def server_error_response() -> JsonResponse:
    return JsonResponse(
        {"success": False, "error": "Internal server error; it has been logged.", "code": "server_error"},
        status=500,
    )


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return server_error_response()
    return defaults.server_error(request)
