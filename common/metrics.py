"""Prometheus metrics (``prometheus-client``), served at ``/metrics``.

Labels are bounded: provider ids come from the registry, key sources and statuses from fixed sets,
models are reduced to the registry's known models (else ``other``); never a key, a keyId of a secret,
a prompt or a user name. Under gunicorn with several workers set ``PROMETHEUS_MULTIPROC_DIR`` (see the
README): every worker writes its samples there and ``/metrics`` adds them up.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "byok_requests_total",
    "Provider calls (every attempt) by endpoint, provider, model, key source and status.",
    ["endpoint", "provider", "model", "source", "status"],
)
UPSTREAM_LATENCY = Histogram(
    "byok_upstream_latency_seconds",
    "Time from sending a provider call to its answer (or the end of its stream).",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
TOKENS = Counter("byok_tokens_total", "Tokens reported by providers, by type.", ["provider", "type"])
RATE_LIMITED = Counter("byok_rate_limit_rejections_total", "Requests refused by a rate limit.", ["scope"])
FAILOVERS = Counter("byok_failovers_total", "Calls that moved on to the next key.", ["provider"])
OPEN_STREAMS = Gauge("byok_open_streams", "Streams being relayed now.", multiprocess_mode="livesum")
KEY_STATUS_CHANGES = Counter("byok_key_status_changes_total", "Provider key status changes.", ["to"])
