"""Settings for the test suite. DATABASE_URL selects PostgreSQL; SQLite otherwise."""

from __future__ import annotations

import os
from pathlib import Path

from .base import *  # noqa: F403
from .base import SQLITE_INIT_COMMAND, VAR_DIR, env

SECRET_KEY = "test-secret-key-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
# SQLite by default, in a file rather than shared-cache memory: live-server tests write from many
# threads, and a memory database would be one connection shared by every thread (pytest-django
# shares it), which SQLite does not survive. DATABASE_URL selects PostgreSQL.
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tests-unused.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # One file per test run (pid), so two runs at once never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": SQLITE_INIT_COMMAND,
    }
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# No Redis unless a test asks for it (TEST_REDIS_URL), even when REDIS_URL is set in the shell: counters
# and the cache version in a shared Redis would carry over from one test to the next.
REDIS_URL = ""
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "byok-test"}}
BYOK_ENCRYPTION_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
BYOK_PREVIOUS_ENCRYPTION_KEYS = []
BYOK_BASE_URL_OVERRIDES = {}
BYOK_ALLOWED_PRIVATE_HOSTS = []
BYOK_ALLOW_INSECURE_URLS = False
BYOK_ALLOW_SYSTEM_KEYS = False
BYOK_HTTP_RETRIES = 0
ENABLE_BYOK = True
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_secrets": {"()": "common.masking.SecretMaskingFilter"}},
    "handlers": {"null": {"class": "logging.NullHandler", "filters": ["mask_secrets"]}},
    "root": {"handlers": ["null"], "level": "DEBUG"},
}

# Static files come from the apps through whitenoise's finders (no collectstatic needed here).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)  # noqa: F405

# /metrics from this machine without a token (a development server has no proxy in front).
BYOK_METRICS_ALLOWED_IPS = env.list("BYOK_METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
