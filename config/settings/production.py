"""Production: PostgreSQL + Redis behind gunicorn. Secrets have no defaults."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import BYOK_ENCRYPTION_KEY, BYOK_PREVIOUS_ENCRYPTION_KEYS, DATABASES, SECRET_KEY, env

DEBUG = False

if not SECRET_KEY:
    raise ImproperlyConfigured("Set DJANGO_SECRET_KEY (a long random string) to run in production.")
if not BYOK_ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "Set BYOK_ENCRYPTION_KEY (64 hex characters, e.g. from `openssl rand -hex 32`) or "
        "BYOK_ENCRYPTION_KEY_FILE (a file holding it) to run in production."
    )
# System checks do not run under gunicorn, so a malformed master key is refused here, at start-up.
from byok_keys.crypto import MasterKeyError, parse_master_key  # noqa: E402

try:
    parse_master_key(BYOK_ENCRYPTION_KEY)
    for _index, _value in enumerate(BYOK_PREVIOUS_ENCRYPTION_KEYS):
        parse_master_key(_value, name=f"BYOK_PREVIOUS_ENCRYPTION_KEYS entry {_index + 1}")
except MasterKeyError as _exc:
    raise ImproperlyConfigured(str(_exc)) from None
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
if "sqlite" in DATABASES["default"]["ENGINE"]:
    import warnings

    warnings.warn("Production settings are running on SQLite; set DATABASE_URL to PostgreSQL.", stacklevel=1)

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Keys travel in requests: plain HTTP is redirected to HTTPS (the proxy sets X-Forwarded-Proto).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0)
# Once every subdomain is on HTTPS too (and, for preload, the domain is submitted to the browsers' list).
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Database connections: one pool per worker process (psycopg's pool, Django 5.2). An async inference
# call borrows a connection only for its few short steps and hands it back (gateway.services), so a
# small pool serves thousands of open calls: a node opens at most GUNICORN_WORKERS x
# DATABASE_POOL_MAX_SIZE connections (defaults: 2 x 10 = 20 on 2 cores, a fifth of PostgreSQL's default
# max_connections of 100; see the README for the arithmetic). A request that finds the pool empty
# waits up to DATABASE_POOL_TIMEOUT seconds instead of opening another connection.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env.bool("DATABASE_POOL", default=True):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps connections open
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=1),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# Static files (the page's script and styles, the admin's) are served by whitenoise from
# DJANGO_STATIC_ROOT after `manage.py collectstatic`, compressed and with hashed names cached forever.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
