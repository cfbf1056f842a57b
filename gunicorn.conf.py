"""gunicorn settings for ``make serve-prod``: uvicorn workers running the ASGI app (``config.asgi``).

The inference endpoints are async, so an open LLM call (seconds; a stream, minutes) holds neither a
thread nor a database connection: one worker per core serves thousands of open calls. Every value can
be overridden with the environment variables below; the README explains the sizing.
"""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
# uvicorn with uvloop and httptools (both installed), one event loop per worker process.
worker_class = "uvicorn_worker.UvicornWorker"
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
# Above BYOK_UPSTREAM_FIRST_BYTE_TIMEOUT: a worker that answers no heartbeat this long is restarted.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "180"))
graceful_timeout = 30
keepalive = 5
backlog = 2048
accesslog = "-"
# The access log never carries the Authorization header, and the masking filter hides query strings.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


def child_exit(server: object, worker: object) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, a dead worker's live gauges stop counting in /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
