"""Streaming on ``/v1/chat/completions``: a stream that fails part-way ends cleanly for the client, is
recorded as failed, and never carries the key."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from byok_keys.models import ProviderKey
from gateway.models import UsageRecord
from groups.models import User
from providers.adapters.openai_compat import OpenAICompatibleAdapter
from providers.chat import ChatChunk, UpstreamError, UpstreamStreamBroken
from tests.factories import OPENAI_KEY, store_user_key


def stream_chat(api: APIClient) -> str:
    response = api.post(
        "/v1/chat/completions",
        {"model": "openai/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        format="json",
    )
    return b"".join(response.streaming_content).decode()


def stream_failing_after(monkeypatch: pytest.MonkeyPatch, text: str, error: Exception) -> None:
    """The OpenAI adapter streams ``text`` as one chunk, then raises ``error``."""

    async def broken(self: Any, request: Any, *, deadline: float) -> Any:
        async def chunks() -> Any:
            yield ChatChunk(text=text)
            raise error

        return chunks()

    monkeypatch.setattr(OpenAICompatibleAdapter, "astream_chat", broken)


def test_a_stream_that_breaks_off_ends_with_an_error_event_and_is_recorded_as_failed(
    api: APIClient, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = store_user_key(owner)
    stream_failing_after(monkeypatch, "Hel", UpstreamStreamBroken("The stream broke off: connection reset"))
    body = stream_chat(api)
    assert '"content":"Hel"' in body
    assert '"code":"upstream_error"' in body and "broke off" in body
    assert body.rstrip().endswith("data: [DONE]")
    assert UsageRecord.objects.get(provider_key=key).status == "upstream_stream_broken"
    assert ProviderKey.objects.get(pk=key.pk).usage_count == 0


def test_an_error_in_the_middle_of_a_stream_is_sent_with_the_key_redacted(
    api: APIClient, owner: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_user_key(owner)
    stream_failing_after(monkeypatch, "Hi", UpstreamError(f"overloaded while serving {OPENAI_KEY[10:30]}"))
    body = stream_chat(api)
    assert "overloaded" in body
    assert OPENAI_KEY[10:30] not in body


def test_a_provider_stream_cut_after_an_error_event_ends_with_an_error_and_is_recorded_as_failed(
    api: APIClient, owner: User, provider_mock: Any
) -> None:
    import json

    import responses

    from tests.factories import OPENAI_CHAT_URL

    key = store_user_key(owner)
    events = [
        {"id": "c", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hal"}}]},
        {"error": {"message": "The server had an error while processing your request.", "type": "server_error"}},
    ]
    body = "".join(f"data: {json.dumps(event)}\n\n" for event in events)  # then the connection ends: no [DONE]
    provider_mock.add(responses.POST, OPENAI_CHAT_URL, body=body, content_type="text/event-stream")
    answer = stream_chat(api)
    assert '"content":"Hal"' in answer
    assert "had an error while processing" in answer and '"error"' in answer
    assert '"finish_reason":"stop"' not in answer
    record = UsageRecord.objects.get(provider_key=key)
    assert record.status != "ok"
    assert ProviderKey.objects.get(pk=key.pk).usage_count == 0
