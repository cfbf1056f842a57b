"""Refuse oversized request bodies with the API's JSON error before anything reads them."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import patch_cache_control

from common.views import api_not_found, is_api_path, server_error_response

logger = logging.getLogger("byok.errors")


class BodySizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.BYOK_MAX_BODY_BYTES
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            body = {
                "success": False,
                "error": f"The request body is {length} bytes; the limit is {limit} bytes.",
                "code": "request_too_large",
            }
            return HttpResponse(json.dumps(body), status=413, content_type="application/json")
        return self.get_response(request)


class ApiSafetyMiddleware:
    """Every API answer is JSON and never cached, whatever goes wrong:

    - a NUL character in the path or query string is a 400 (PostgreSQL cannot compare with one: a 500);
    - an exception a view did not handle is a JSON 500, also with DEBUG on, so no request body (and no
      key in it) ever reaches Django's debug page; the traceback goes to the (masked) log;
    - API responses carry ``Cache-Control: no-store`` (they hold key metadata and tokens shown once).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            "\x00" in request.path
            or "\x00" in request.META.get("QUERY_STRING", "")
            or "%00" in request.META.get("QUERY_STRING", "")
        ):
            return JsonResponse(
                {
                    "success": False,
                    "error": "The address contains a NUL character; remove it.",
                    "code": "invalid_characters",
                },
                status=400,
            )
        response = self.get_response(request)
        if is_api_path(request.path) and "Cache-Control" not in response:
            patch_cache_control(response, no_store=True)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_api_path(request.path):
            return None
        if isinstance(exception, RequestDataTooBig):  # a body with no Content-Length that ran past the limit
            return JsonResponse(
                {
                    "success": False,
                    "error": f"The request body is larger than the limit of {settings.BYOK_MAX_BODY_BYTES} bytes.",
                    "code": "request_too_large",
                },
                status=413,
            )
        if isinstance(exception, SuspiciousOperation):
            return JsonResponse(
                {"success": False, "error": "The request was refused as malformed.", "code": "bad_request"}, status=400
            )
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return server_error_response()


class ApiNotFoundMiddleware:
    """API paths answer JSON 404s under every setting: with DEBUG on, Django would otherwise answer an
    unknown path (or one with a trailing slash) with its HTML debug page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and is_api_path(request.path)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return api_not_found(request)
        return response
