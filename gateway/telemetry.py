"""OpenTelemetry traces and metrics for provider calls, following the GenAI semantic conventions
(``gen_ai.operation.name``, ``gen_ai.provider.name``, ``gen_ai.request.model``,
``gen_ai.usage.input_tokens``/``output_tokens``, ``gen_ai.client.operation.duration``,
``gen_ai.server.time_to_first_token``).

Exported by OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (the SDK reads the standard OTEL_*
variables); otherwise the API's no-op providers make every call here free. Prompts, answers and keys
are never put on a span or a metric.
"""

from __future__ import annotations

import os
import time
from typing import Any

from opentelemetry import metrics, trace

INSTRUMENTATION = "byok.gateway"


def configure_from_environment() -> bool:
    """Install OTLP exporters when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set. Returns whether it did."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "byok-vault")})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(
        MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())])
    )
    return True


# Made once: until a provider is configured these are the API's proxies, which bind to the real
# instruments when ``configure_from_environment`` installs one (and cost nothing otherwise).
_meter = metrics.get_meter(INSTRUMENTATION)
_DURATION = _meter.create_histogram(
    "gen_ai.client.operation.duration", unit="s", description="GenAI operation duration."
)
_TIME_TO_FIRST_TOKEN = _meter.create_histogram(
    "gen_ai.server.time_to_first_token", unit="s", description="Time to receive the first token of a stream."
)


def record_attempt(
    *,
    provider: str,
    model: str,
    key_source: str,
    status: str,
    latency_ms: int,
    input_tokens: int | None,
    output_tokens: int | None,
    first_token_ms: int | None = None,
) -> None:
    """One provider call (or failed attempt) as a client span and GenAI metrics, recorded when it ends
    (a stream's end included), with the span's start set back by its latency."""
    end = time.time_ns()
    attributes: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
    }
    span = trace.get_tracer(INSTRUMENTATION).start_span(
        f"chat {model}",
        kind=trace.SpanKind.CLIENT,
        attributes={**attributes, "byok.key_source": key_source},
        start_time=end - latency_ms * 1_000_000,
    )
    if input_tokens is not None:
        span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
    if output_tokens is not None:
        span.set_attribute("gen_ai.usage.output_tokens", output_tokens)
    if status != "ok":
        span.set_attribute("error.type", status)
        span.set_status(trace.Status(trace.StatusCode.ERROR))
        attributes["error.type"] = status
    span.end(end_time=end)
    _DURATION.record(latency_ms / 1000, attributes)
    if first_token_ms is not None:
        _TIME_TO_FIRST_TOKEN.record(first_token_ms / 1000, attributes)
