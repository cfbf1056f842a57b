"""The service and the fake provider in their own processes, on the test database: for tests that
need production's shape (several processes; no test client threads competing with the server)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from django.conf import settings as django_settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_database_url() -> str:
    """The test database this process uses, as a DATABASE_URL for another process."""
    settings = connection.settings_dict
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings['NAME']}"
    user, host, port = settings.get("USER") or "postgres", settings.get("HOST") or "127.0.0.1", settings.get("PORT")
    return f"postgres://{user}@{host}:{port or 5432}/{settings['NAME']}"


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not start")


@contextmanager
def _process(args: list[str], env: dict[str, str], probe_url: str) -> Iterator[None]:
    process = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env})
    try:
        _wait_until_up(probe_url, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def service_process(env: dict[str, str] | None = None, *, workers: int = 2) -> Iterator[str]:
    """The service as ``make serve-prod`` runs it (gunicorn, uvicorn workers, ``gunicorn.conf.py``, the
    production settings: a connection pool on PostgreSQL) on the test database, with the test's master
    key."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.asgi:application"]
    args += ["--access-logfile", "/dev/null", "--log-level", "warning"]
    environment = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": django_settings.SECRET_KEY * 2,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "BYOK_ENCRYPTION_KEY": django_settings.BYOK_ENCRYPTION_KEY,
        "DATABASE_URL": test_database_url(),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "PYTHONWARNINGS": "ignore",
        **(env or {}),
    }
    with _process(args, environment, f"{url}/healthz"):
        yield url


@contextmanager
def fake_provider_process(*, delay: float = 0.0) -> Iterator[str]:
    """``tests.fake_provider`` in its own process; yields its base URL (``…/v1``)."""
    port = free_port()
    args = [sys.executable, "-m", "tests.fake_provider", "--port", str(port), "--delay", str(delay)]
    with _process(args, {}, f"http://127.0.0.1:{port}/v1/models"):
        yield f"http://127.0.0.1:{port}/v1"
