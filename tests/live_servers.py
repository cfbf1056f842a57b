"""Server processes for tests that need more than one, or production's shape (the in-process
``live_server`` is one thread of the test's own process): the service as ``make serve-prod`` runs it
(gunicorn with uvicorn workers on the ASGI app), and the fake provider, in their own processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from django.conf import settings as django_settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# The one place that says how the service is served; tests/live_settings.py are its settings.
SERVER_COMMAND = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.asgi:application"]


class Server:
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.process = process
        self.log = log

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(port: int, env: dict[str, str]) -> Server:
    """Start the service on ``port`` (one worker) with ``env`` on top of this process's environment (the
    database, Redis and provider settings come from there, see ``database_url``); returns once it
    answers ``/healthz``."""
    with socket.socket() as probe:  # a server left over on the port would answer in this one's place
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is already in use")
    log = Path(tempfile.mkstemp(prefix=f"byok-server-{port}-", suffix=".log")[1])
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.live_settings",
        "PYTHONPATH": str(ROOT),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "1",
        **env,
    }
    with log.open("wb") as sink:
        process = subprocess.Popen(SERVER_COMMAND, cwd=ROOT, env=full_env, stdout=sink, stderr=subprocess.STDOUT)
    server = Server(port, process, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return server
        except requests.RequestException:  # not listening yet, or still loading the app
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the server on port {port} did not start:\n{server.output()}")


def database_url() -> str:
    """A URL for the database this test process is using (SQLite file or PostgreSQL), for its servers."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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
    args = list(SERVER_COMMAND)
    args += ["--access-logfile", "/dev/null", "--log-level", "warning"]
    environment = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": django_settings.SECRET_KEY * 2,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_SECURE_COOKIES": "false",
        "BYOK_ENCRYPTION_KEY": django_settings.BYOK_ENCRYPTION_KEY,
        "DATABASE_URL": database_url(),
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
