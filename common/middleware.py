"""The service's middleware. Every one runs natively in both modes: under ASGI (``make serve-prod``)
on the event loop without a thread hop, under WSGI (``make run``, the test client) as usual. A sync-only
middleware would make Django bounce each request between the loop and a thread several times, which
costs more than the gateway call itself; the framework's own middleware (``MiddlewareMixin``) hops to a
thread for each hook, so the ones whose hooks only touch memory are wrapped below to run them inline
(not Security, CSRF and X-Frame-Options: ``check --deploy`` looks for those by name).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from csp.middleware import CSPMiddleware as _CSPMiddleware
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware as _AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware as _MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware as _SessionMiddleware
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.common import CommonMiddleware as _CommonMiddleware
from django.utils.cache import patch_cache_control
from whitenoise.middleware import WhiteNoiseMiddleware as _WhiteNoiseMiddleware

from common.views import api_not_found, is_api_path, server_error_response

logger = logging.getLogger("byok.errors")


class DualMiddleware:
    """A middleware for both modes: ``before`` may answer at once, ``after`` may change the answer;
    both only touch memory, so under ASGI they run on the event loop."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        early = self.before(request)
        if early is not None:
            return early
        return self.after(request, self.get_response(request))

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        early = self.before(request)
        if early is not None:
            return early
        return self.after(request, await self.get_response(request))

    def before(self, request: HttpRequest) -> HttpResponse | None:
        return None

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        return response


class InlineHooks:
    """For the framework's ``MiddlewareMixin`` middleware whose hooks only touch memory: under ASGI run
    ``process_request``/``process_response`` inline instead of in a thread each."""

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)  # type: ignore[attr-defined]
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class CSPMiddleware(InlineHooks, _CSPMiddleware):
    pass


class CommonMiddleware(InlineHooks, _CommonMiddleware):
    pass


class AuthenticationMiddleware(InlineHooks, _AuthenticationMiddleware):
    pass


class MessageMiddleware(InlineHooks, _MessageMiddleware):
    pass


class SessionMiddleware(_SessionMiddleware):
    """Loading is lazy (in memory); saving a changed session is database work, done in a thread."""

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        self.process_request(request)
        response = await self.get_response(request)  # type: ignore[misc]
        if request.session.modified or settings.SESSION_SAVE_EVERY_REQUEST:
            return await sync_to_async(self.process_response)(request, response)
        return self.process_response(request, response)


class StaticFilesMiddleware(_WhiteNoiseMiddleware):
    """WhiteNoise (sync only) for both modes: the lookup is in memory; serving a file opens it, in a
    thread."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any], *args: Any, **kwargs: Any) -> None:
        super().__init__(get_response, *args, **kwargs)
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self.get_response):
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        static_file = self.find_file(request.path_info) if self.autorefresh else self.files.get(request.path_info)
        if static_file is not None:
            return await sync_to_async(self.serve)(static_file, request)
        return await self.get_response(request)


class BodySizeLimitMiddleware(DualMiddleware):
    """Refuse oversized request bodies with the API's JSON error before anything reads them."""

    def before(self, request: HttpRequest) -> HttpResponse | None:
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
        return None


class ApiSafetyMiddleware(DualMiddleware):
    """Every API answer is JSON and never cached, whatever goes wrong:

    - a NUL character in the path or query string is a 400 (PostgreSQL cannot compare with one: a 500);
    - an exception a view did not handle is a JSON 500, also with DEBUG on, so no request body (and no
      key in it) ever reaches Django's debug page; the traceback goes to the (masked) log;
    - API responses carry ``Cache-Control: no-store`` (they hold key metadata and tokens shown once).
    """

    def before(self, request: HttpRequest) -> HttpResponse | None:
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
        return None

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
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


class ApiNotFoundMiddleware(DualMiddleware):
    """API paths answer JSON 404s under every setting: with DEBUG on, Django would otherwise answer an
    unknown path (or one with a trailing slash) with its HTML debug page."""

    def after(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if (
            response.status_code == 404
            and is_api_path(request.path)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return api_not_found(request)
        return response
