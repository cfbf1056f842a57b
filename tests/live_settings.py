"""Settings for a server process a test starts (``tests/live_servers.py``): the test settings, on the
database, Redis and fake provider that the starting test hands over in the environment."""

from __future__ import annotations

from config.settings.test import *  # noqa: F403
from config.settings.test import SQLITE_INIT_COMMAND, env

DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": SQLITE_INIT_COMMAND,
    }
REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
BYOK_BASE_URL_OVERRIDES = {"openai": url} if (url := env("BYOK_OPENAI_BASE_URL", default="")) else {}
# Errors go to the server's log (start_server keeps it in a file and shows it when the server fails).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_secrets": {"()": "common.masking.SecretMaskingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["mask_secrets"]}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
