"""The current request's client address and id, for audit events written deep inside services and
for every log line (``X-Request-Id``)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

current_ip: ContextVar[str | None] = ContextVar("current_ip", default=None)
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# An id a proxy or client sent is kept when it is plainly an id (it goes into logs and a header).
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextMiddleware:
    """Sets the context for the request (natively in both modes: no thread hop under ASGI)."""

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
        request_id, tokens = self._enter(request)
        try:
            response = self.get_response(request)
            response["X-Request-Id"] = request_id
            return response
        finally:
            self._exit(tokens)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        request_id, tokens = self._enter(request)
        try:
            response = await self.get_response(request)
            response["X-Request-Id"] = request_id
            return response
        finally:
            self._exit(tokens)

    @staticmethod
    def _enter(request: HttpRequest) -> tuple[str, tuple[Token[str | None], Token[str | None]]]:
        # REMOTE_ADDR only: X-Forwarded-For is client-controlled unless a trusted proxy rewrites it.
        sent = request.headers.get("X-Request-Id", "")
        request_id = sent if _REQUEST_ID_RE.match(sent) else uuid.uuid4().hex
        return request_id, (
            current_ip.set(request.META.get("REMOTE_ADDR") or None),
            current_request_id.set(request_id),
        )

    @staticmethod
    def _exit(tokens: tuple[Token[str | None], Token[str | None]]) -> None:
        current_ip.reset(tokens[0])
        current_request_id.reset(tokens[1])
