"""OpenTelemetry: a provider call is a client span and GenAI metrics with the semantic conventions'
names, and neither carries a secret nor the prompt or the answer (in-memory exporters)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from rest_framework.test import APIClient

from groups.models import User
from tests.factories import OPENAI_CHAT_URL, OPENAI_KEY, store_user_key
from tests.gateway.test_inference import completion

PROMPT = "a confidential prompt 7f3a"
ANSWER = "a confidential answer 9c1e"


class _Exporters:
    spans = InMemorySpanExporter()
    metrics = InMemoryMetricReader()
    installed = False


@pytest.fixture
def exported() -> Iterator[_Exporters]:
    """The SDK's providers with in-memory exporters, installed once for the process (the API allows one
    global provider; the gateway's instruments bind to it)."""
    if not _Exporters.installed:
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(_Exporters.spans))
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[_Exporters.metrics]))
        _Exporters.installed = True
    _Exporters.spans.clear()
    yield _Exporters


def test_a_call_is_a_genai_span_and_metrics_without_secrets_or_prompts(
    api: APIClient, owner: User, provider_mock: Any, exported: _Exporters
) -> None:
    store_user_key(owner)
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, json=completion(text=ANSWER, prompt=11, completion_tokens=3))
    response = api.post(
        "/v1/chat/completions",
        {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]},
        format="json",
    )
    assert response.status_code == 200
    (span,) = exported.spans.get_finished_spans()
    assert span.name == "chat gpt-4o-mini"
    assert span.kind == trace.SpanKind.CLIENT
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] == 11
    assert attributes["gen_ai.usage.output_tokens"] == 3
    assert attributes["byok.key_source"] == "user"

    data = exported.metrics.get_metrics_data()
    assert data is not None
    points = {
        metric.name: metric
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert "gen_ai.client.operation.duration" in points
    duration = points["gen_ai.client.operation.duration"]
    assert duration.unit == "s"
    assert any(dict(p.attributes or {}).get("gen_ai.provider.name") == "openai" for p in duration.data.data_points)

    exported_text = span.to_json() + data.to_json()
    for secret in (OPENAI_KEY, OPENAI_KEY[8:24], PROMPT, ANSWER):
        assert secret not in exported_text


def test_a_failed_call_is_an_error_span_naming_the_error(
    api: APIClient, owner: User, provider_mock: Any, exported: _Exporters
) -> None:
    store_user_key(owner)
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, status=500, json={"error": {"message": f"boom {OPENAI_KEY}"}})
    response = api.post(
        "/v1/chat/completions",
        {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]},
        format="json",
    )
    assert response.status_code == 502
    (span,) = exported.spans.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert dict(span.attributes or {})["error.type"] == "upstream_error"
    assert OPENAI_KEY not in span.to_json() and PROMPT not in span.to_json()
    assert json.loads(span.to_json())["name"] == "chat gpt-4o-mini"
