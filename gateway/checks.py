"""System checks for inference settings: a malformed rate is a start-up error that says what is wrong."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from common.ratelimit import Rate


@checks.register(checks.Tags.security, deploy=False)
def check_rate_limits(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    for setting in (
        "BYOK_RATE_LIMIT_USER",
        "BYOK_RATE_LIMIT_KEY",
        "BYOK_AUTH_FAILURES_PER_ACCOUNT",
        "BYOK_AUTH_FAILURES_PER_IP",
    ):
        try:
            Rate.parse(getattr(settings, setting), setting=setting)
        except ImproperlyConfigured as exc:
            errors.append(checks.Error(str(exc), id="byok.E003"))
    return errors
