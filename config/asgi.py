"""ASGI entry point (``make serve-prod``: gunicorn with uvicorn workers, ``config.asgi:application``).

The inference endpoints are async views: an open LLM call holds no thread, so a worker serves
thousands of them at once. The management API stays sync and runs in Django's thread pool."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_asgi_application()
