"""Local development: ``make run``. Generates what a newcomer would otherwise have to configure."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from .base import *  # noqa: F403
from .base import BYOK_ENCRYPTION_KEY, VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
BYOK_ALLOWED_PRIVATE_HOSTS = env.list("BYOK_ALLOWED_PRIVATE_HOSTS", default=["localhost", "127.0.0.1"])
BYOK_ALLOW_INSECURE_URLS = env.bool("BYOK_ALLOW_INSECURE_URLS", default=True)
BYOK_ALLOW_SYSTEM_KEYS = env.bool("BYOK_ALLOW_SYSTEM_KEYS", default=True)
BYOK_LOCAL_BOOTSTRAP = True


def _local_secret(filename: str, make: str, announce: str | None = None) -> str:
    """Read a generated secret from var/, creating it (mode 0600) on first use."""
    path = VAR_DIR / filename
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(make + "\n")
    if announce:
        print(announce.format(path=path), file=sys.stderr)
    return make


SECRET_KEY = env("DJANGO_SECRET_KEY", default="") or _local_secret("django-secret-key", secrets.token_urlsafe(50))
if not BYOK_ENCRYPTION_KEY:
    BYOK_ENCRYPTION_KEY = _local_secret(
        "byok-master.key",
        secrets.token_hex(32),
        "BYOK_ENCRYPTION_KEY is not set: generated a local master key into {path} (mode 0600). "
        "Keep it: without it the stored provider keys cannot be decrypted.",
    )

# Static files come from the apps through whitenoise's finders (no collectstatic needed here).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405

# /metrics from this machine without a token (a development server has no proxy in front).
BYOK_METRICS_ALLOWED_IPS = env.list("BYOK_METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
