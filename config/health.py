"""``/healthz`` (the process answers), ``/readyz`` (it can serve: database, Redis when configured,
master key loaded) and ``/metrics`` (Prometheus). The first two are for load balancers and
orchestrators: no authentication, no detail beyond names."""

from __future__ import annotations

import hmac
import logging
import os

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

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


@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format. Allowed with ``Authorization: Bearer <BYOK_METRICS_TOKEN>`` (when set) or
    from an address in ``BYOK_METRICS_ALLOWED_IPS`` (default: this machine only)."""
    token = settings.BYOK_METRICS_TOKEN
    sent = request.headers.get("Authorization", "")
    by_token = bool(token) and hmac.compare_digest(sent, f"Bearer {token}")
    by_address = request.META.get("REMOTE_ADDR", "") in settings.BYOK_METRICS_ALLOWED_IPS
    if not (by_token or by_address):
        return JsonResponse(
            {"success": False, "error": "Metrics are not open to this client.", "code": "forbidden"}, status=403
        )
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # every gunicorn worker's samples, added up
    else:
        registry = REGISTRY
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
