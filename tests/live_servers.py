"""Server processes for tests that need more than one (the in-process ``live_server`` is one thread of
the test's own process): the service as production runs it, under gunicorn, on a port in 8700-8799."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
# The one place that says how the service is served; tests/live_settings.py are its settings.
SERVER_COMMAND = [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi"]


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
