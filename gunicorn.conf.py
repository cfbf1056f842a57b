"""gunicorn settings: threaded workers, because LLM calls are slow I/O and a sync worker per call
would stall. Every value can be overridden with the environment variables below."""

from __future__ import annotations

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
# Each thread may hold a database connection: workers x threads must stay well inside PostgreSQL's
# max_connections (5 x 4 = 20 by default on 2 cores; see the README). The pool is as large as this.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# Above BYOK_INFERENCE_TIMEOUT, so a slow provider call finishes before the worker is killed.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "180"))
graceful_timeout = 30
keepalive = 5
accesslog = "-"
# The access log never carries the Authorization header, and the masking filter hides query strings.
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


def child_exit(server: object, worker: object) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, a dead worker's live gauges stop counting in /metrics."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
