"""Slow down password guessing on every sign-in form (the page's and the admin's).

Failures are counted per account and per IP address (``user_login_failed``); past either limit a
sign-in POST is answered 429 with ``Retry-After`` before the password is checked, so even the right
password waits. A successful sign-in clears the account's count.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from common import ratelimit
from common.middleware import DualMiddleware

SIGN_IN_PATHS = frozenset({"/accounts/login/", "/admin/login/"})


def _rates() -> tuple[ratelimit.Rate | None, ratelimit.Rate | None]:
    return (
        ratelimit.configured_rate(settings.BYOK_AUTH_FAILURES_PER_ACCOUNT, "BYOK_AUTH_FAILURES_PER_ACCOUNT"),
        ratelimit.configured_rate(settings.BYOK_AUTH_FAILURES_PER_IP, "BYOK_AUTH_FAILURES_PER_IP"),
    )


def _account(username: object) -> str:
    return str(username or "").strip().lower()[:150]


@receiver(user_login_failed, dispatch_uid="web.count_failed_sign_in")
def count_failed_sign_in(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kw: Any
) -> None:
    per_account, per_ip = _rates()
    ratelimit.record_failure(scope="account", ident=_account(credentials.get("username")), rate=per_account)
    if request is not None:
        ratelimit.record_failure(scope="ip", ident=request.META.get("REMOTE_ADDR", ""), rate=per_ip)


@receiver(user_logged_in, dispatch_uid="web.clear_failed_sign_ins")
def clear_failed_sign_ins(sender: Any, request: HttpRequest | None, user: Any, **kw: Any) -> None:
    per_account, _ = _rates()
    ratelimit.clear_failures(scope="account", ident=_account(user.get_username()), rate=per_account)


class SignInThrottleMiddleware(DualMiddleware):
    """Counts live in the cache (Redis): under ASGI the check runs in a thread, and only for sign-ins."""

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        return self.throttled(request) or self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and request.path in SIGN_IN_PATHS:
            refusal = await sync_to_async(self.throttled)(request)
            if refusal is not None:
                return refusal
        return await self.get_response(request)

    @staticmethod
    def throttled(request: HttpRequest) -> HttpResponse | None:
        if request.method == "POST" and request.path in SIGN_IN_PATHS:
            per_account, per_ip = _rates()
            checks = [
                (per_ip, "ip", request.META.get("REMOTE_ADDR", "")),
                (per_account, "account", _account(request.POST.get("username"))),
            ]
            for rate, scope, ident in checks:
                if rate is not None and ratelimit.failure_count(scope=scope, ident=ident, rate=rate) >= rate.limit:
                    wait = ratelimit.retry_after(rate)
                    body = render_to_string("registration/throttled.html", {"wait": wait}, request=request)
                    response = HttpResponse(body, status=429)
                    response["Retry-After"] = str(wait)
                    return response
        return None
