"""``/healthz`` (the process answers) and ``/readyz`` (it can serve: database, Redis when configured,
master key loaded). For load balancers and orchestrators: no authentication, no detail beyond names."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from byok_keys.keyring import get_keyring

logger = logging.getLogger("byok.health")


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    cache.set("byok:readyz", "1", timeout=5)
    if cache.get("byok:readyz") != "1":
        raise RuntimeError("the cache did not return what was stored")


def _master_key() -> None:
    get_keyring()


@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database, "master_key": _master_key}
    if getattr(settings, "REDIS_URL", ""):
        checks["redis"] = _cache
    failed = []
    for name, check in checks.items():
        try:
            check()
        except Exception:
            logger.exception("readiness check %s failed", name)
            failed.append(name)
    status = 503 if failed else 200
    return JsonResponse({"status": "unavailable" if failed else "ready", "failed": failed}, status=status)
