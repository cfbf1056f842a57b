"""The current request's client address and id, for audit events written deep inside services and
for every log line (``X-Request-Id``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse

current_ip: ContextVar[str | None] = ContextVar("current_ip", default=None)
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# An id a proxy or client sent is kept when it is plainly an id (it goes into logs and a header).
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
        sent = request.headers.get("X-Request-Id", "")
        request_id = sent if _REQUEST_ID_RE.match(sent) else uuid.uuid4().hex
        ip_token = current_ip.set(request.META.get("REMOTE_ADDR") or None)
        id_token = current_request_id.set(request_id)
        try:
            response = self.get_response(request)
            response["X-Request-Id"] = request_id
            return response
        finally:
            current_ip.reset(ip_token)
            current_request_id.reset(id_token)
