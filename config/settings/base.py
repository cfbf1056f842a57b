"""Settings shared by every environment. One ``env`` object; every variable is in ``.env.example``."""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
# Previous secret keys during a rotation: sessions, password-reset links and the audit chain's key
# still verify with them.
SECRET_KEY_FALLBACKS: list[str] = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS: list[str] = env.list("DJANGO_ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS: list[str] = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "common",
    "groups",
    "byok_keys",
    "providers",
    "gateway",
    "web",
]

# Most of Django's, WhiteNoise's and django-csp's middleware are wrapped in common.middleware to run on
# the event loop under ASGI instead of hopping to a thread per hook (see that module). Security, CSRF
# and X-Frame-Options keep their own names: `check --deploy` looks for them by name.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "common.middleware.StaticFilesMiddleware",
    "common.middleware.CSPMiddleware",
    "common.middleware.ApiSafetyMiddleware",
    "common.middleware.ApiNotFoundMiddleware",
    "common.middleware.BodySizeLimitMiddleware",
    "common.context.RequestContextMiddleware",
    "common.middleware.SessionMiddleware",
    "common.middleware.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "common.middleware.AuthenticationMiddleware",
    "web.throttle.SignInThrottleMiddleware",
    "common.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
AUTH_USER_MODEL = "groups.User"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

SQLITE_INIT_COMMAND = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
# Never ATOMIC_REQUESTS: a provider HTTP call must never hold a database transaction open.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Write transactions take the write lock when they begin (BEGIN IMMEDIATE), so concurrent requests
    # wait for each other (busy timeout) instead of failing with "database is locked" when a read
    # lock would have to be upgraded.
    # Write-ahead logging: readers never wait for the writer, and a commit is an append synced at
    # checkpoints (synchronous=NORMAL) rather than a full sync of the database per usage record.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": SQLITE_INIT_COMMAND}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "byok"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))

# ---- Content-Security-Policy (django-csp): no inline or third-party scripts anywhere ----------
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Inline style attributes only (the admin uses some); never inline scripts.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Django's error reports (debug page, mail to admins) never show request bodies or POST values: a key
# may be in any of them.
DEFAULT_EXCEPTION_REPORTER_FILTER = "common.reporting.NoRequestDataFilter"

# ---- Metrics (/metrics, Prometheus) -------------------------------------------------------------
BYOK_METRICS_TOKEN = env("BYOK_METRICS_TOKEN", default="")  # scrapers send Authorization: Bearer <it>
# Empty by default: behind a reverse proxy on the same host every request comes from 127.0.0.1, so an
# address list is only safe where the operator knows where requests come from (local settings: loopback).
BYOK_METRICS_ALLOWED_IPS: list[str] = env.list("BYOK_METRICS_ALLOWED_IPS", default=[])

# ---- Email (password resets, set-password links; later: notifications) -------------------
# EMAIL_URL: consolemail:// (prints to the console, the default), smtp+tls://user:pass@host:587, …
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="byok@localhost")

# Failed sign-ins and unknown API tokens, counted per account and per IP address (rates like
# 10/15min; "off" disables): past the limit, attempts get a 429 before anything is checked.
BYOK_AUTH_FAILURES_PER_ACCOUNT = env("BYOK_AUTH_FAILURES_PER_ACCOUNT", default="10/15min")
BYOK_AUTH_FAILURES_PER_IP = env("BYOK_AUTH_FAILURES_PER_IP", default="50/15min")

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/byok-interface.html"
LOGOUT_REDIRECT_URL = "/accounts/login/"

# ---- Request bodies ----------------------------------------------------------------------
BYOK_MAX_BODY_BYTES = env.int("BYOK_MAX_BODY_BYTES", default=1_048_576)
DATA_UPLOAD_MAX_MEMORY_SIZE = BYOK_MAX_BODY_BYTES

# ---- BYOK --------------------------------------------------------------------------------
ENABLE_BYOK = env.bool("ENABLE_BYOK", default=True)
# 64 hex characters (openssl rand -hex 32), or a file holding them.
BYOK_ENCRYPTION_KEY = env("BYOK_ENCRYPTION_KEY", default="")
BYOK_ENCRYPTION_KEY_FILE = env("BYOK_ENCRYPTION_KEY_FILE", default="")
if not BYOK_ENCRYPTION_KEY and BYOK_ENCRYPTION_KEY_FILE:
    try:
        BYOK_ENCRYPTION_KEY = Path(BYOK_ENCRYPTION_KEY_FILE).read_text().strip()
    except OSError as _exc:
        raise ImproperlyConfigured(
            f"BYOK_ENCRYPTION_KEY_FILE={BYOK_ENCRYPTION_KEY_FILE} cannot be read ({_exc.strerror}); "
            "point it at the file holding the master key, or set BYOK_ENCRYPTION_KEY."
        ) from None
# Comma-separated master keys used only to decrypt, while secrets are re-sealed after a rotation.
BYOK_PREVIOUS_ENCRYPTION_KEYS: list[str] = env.list("BYOK_PREVIOUS_ENCRYPTION_KEYS", default=[])

# ---- API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "byok_keys.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["common.parsers.SafeJSONParser"],
    "EXCEPTION_HANDLER": "common.api.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "BYOK key vault API",
    "DESCRIPTION": "Store LLM provider keys encrypted, share them in groups, and call LLMs with them.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI served from this server (drf-spectacular-sidecar), not from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
}

# ---- Logging: credentials are masked in every record ------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "mask_secrets": {"()": "common.masking.SecretMaskingFilter"},
        "request_id": {"()": "common.logs.RequestIdFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "common.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["mask_secrets", "request_id"],
            # BYOK_LOG_FORMAT=json: one JSON object per line (time, level, logger, message, request_id).
            "formatter": "json" if env("BYOK_LOG_FORMAT", default="plain") == "json" else "plain",
        },
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# ---- Providers ---------------------------------------------------------------------------
# BYOK_<ID>_BASE_URL replaces a provider's default base URL (operators; tests against a fake).
BYOK_BASE_URL_OVERRIDES: dict[str, str] = {
    name[len("BYOK_") : -len("_BASE_URL")].lower(): value
    for name, value in env.ENVIRON.items()
    if name.startswith("BYOK_") and name.endswith("_BASE_URL") and value
}
BYOK_HTTP_TIMEOUT = env.float("BYOK_HTTP_TIMEOUT", default=10.0)
BYOK_HTTP_CONNECT_TIMEOUT = env.float("BYOK_HTTP_CONNECT_TIMEOUT", default=5.0)
BYOK_INFERENCE_TIMEOUT = env.float("BYOK_INFERENCE_TIMEOUT", default=120.0)
BYOK_HTTP_RETRIES = env.int("BYOK_HTTP_RETRIES", default=2)
# Inference calls (async, httpx): connecting, the answer's first byte, the gap between two streamed
# chunks, and the whole call. A non-streamed answer's first byte comes when the model has finished, so
# its limit is the longest.
BYOK_UPSTREAM_CONNECT_TIMEOUT = env.float("BYOK_UPSTREAM_CONNECT_TIMEOUT", default=5.0)
BYOK_UPSTREAM_FIRST_BYTE_TIMEOUT = env.float(
    "BYOK_UPSTREAM_FIRST_BYTE_TIMEOUT", default=env.float("BYOK_INFERENCE_TIMEOUT", default=120.0)
)
BYOK_UPSTREAM_IDLE_TIMEOUT = env.float("BYOK_UPSTREAM_IDLE_TIMEOUT", default=60.0)
BYOK_UPSTREAM_TOTAL_TIMEOUT = env.float("BYOK_UPSTREAM_TOTAL_TIMEOUT", default=600.0)
# Open connections to providers per worker process (0: no limit).
BYOK_UPSTREAM_MAX_CONNECTIONS = env.int("BYOK_UPSTREAM_MAX_CONNECTIONS", default=1000)
BYOK_ALLOW_BILLED_VALIDATION = env.bool("BYOK_ALLOW_BILLED_VALIDATION", default=False)
# User-supplied URLs (Azure endpoint, Ollama base URL, Databricks workspace) may only point at
# private, loopback or link-local addresses for the hosts listed here.
BYOK_ALLOWED_PRIVATE_HOSTS: list[str] = env.list("BYOK_ALLOWED_PRIVATE_HOSTS", default=[])
BYOK_ALLOW_INSECURE_URLS = env.bool("BYOK_ALLOW_INSECURE_URLS", default=False)

# ---- Inference ---------------------------------------------------------------------------
BYOK_ALLOW_SYSTEM_KEYS = env.bool("BYOK_ALLOW_SYSTEM_KEYS", default=False)
BYOK_FAILOVER = env.bool("BYOK_FAILOVER", default=True)
BYOK_RATE_LIMIT_USER = env("BYOK_RATE_LIMIT_USER", default="600/min")
BYOK_RATE_LIMIT_KEY = env("BYOK_RATE_LIMIT_KEY", default="600/min")
# API tokens and key resolution are held in each process for this long at most (0: read the database on
# every call); any change to them is seen at once anyway, through a shared version (common/hotcache.py).
BYOK_AUTH_CACHE_SECONDS = env.float("BYOK_AUTH_CACHE_SECONDS", default=30.0)
# The usage ledger's roll-up (gateway.usage.rollup_usage; `manage.py byok_rollup_usage` every minute):
# records younger than the lag (seconds) wait for the next run, so an insert still committing is never
# skipped; a run rolls up this many records per transaction; a read that finds more calls than the
# tail limit past the watermark rolls up one batch itself.
BYOK_USAGE_ROLLUP_LAG = env.float("BYOK_USAGE_ROLLUP_LAG", default=2.0)
BYOK_USAGE_ROLLUP_BATCH = env.int("BYOK_USAGE_ROLLUP_BATCH", default=50_000)
BYOK_USAGE_ROLLUP_TAIL = env.int("BYOK_USAGE_ROLLUP_TAIL", default=10_000)
