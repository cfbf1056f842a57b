"""Finish reasons: every result and chunk carries the provider's own reason and the same in OpenAI's words."""

from __future__ import annotations

import pytest

from providers.chat import ChatChunk, ChatResult, openai_finish_reason


@pytest.mark.parametrize(
    ("raw", "openai"),
    [
        ("stop", "stop"),
        ("end_turn", "stop"),  # Anthropic, Bedrock
        ("stop_sequence", "stop"),
        ("STOP", "stop"),  # Google
        ("COMPLETE", "stop"),  # Cohere
        ("length", "length"),
        ("max_tokens", "length"),  # Anthropic, Bedrock
        ("MAX_TOKENS", "length"),  # Google, Cohere
        ("tool_calls", "tool_calls"),
        ("tool_use", "tool_calls"),  # Anthropic, Bedrock
        ("content_filter", "content_filter"),
        ("SAFETY", "content_filter"),  # Google (also a blocked prompt's blockReason)
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("SPII", "content_filter"),
        ("guardrail_intervened", "content_filter"),  # Bedrock
        ("refusal", "content_filter"),  # Anthropic
        ("ERROR_TOXIC", "stop"),  # anything else that ends an answer
    ],
)
def test_provider_finish_reason_in_openai_words(raw: str, openai: str) -> None:
    assert openai_finish_reason(raw) == openai
    result = ChatResult("Rome.", None, raw, "m")
    assert (result.finish_reason, result.openai_finish_reason) == (raw, openai)
    chunk = ChatChunk(finish_reason=raw)
    assert (chunk.finish_reason, chunk.openai_finish_reason) == (raw, openai)


def test_a_result_without_a_finish_reason_finished_with_stop() -> None:
    result = ChatResult("Rome.", None, None, "m")
    assert (result.finish_reason, result.openai_finish_reason) == (None, "stop")


def test_a_chunk_that_does_not_end_the_answer_has_no_finish_reason() -> None:
    assert openai_finish_reason(None) is None
    assert ChatChunk(text="Ro").openai_finish_reason is None
