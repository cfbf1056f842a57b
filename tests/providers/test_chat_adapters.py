"""The chat call of every adapter with its own wire format, plus one OpenAI-compatible provider.

Each provider is mocked with ``responses`` (the autouse ``provider_mock``: an unregistered call fails,
every registered answer must be used). The tests assert the exact request sent (method, URL with path
and query, auth headers, JSON body), how the answer is read (text, usage, finish reason), streaming
where the provider streams, and how error answers map onto the ``Upstream*`` hierarchy.

Answers are shaped after the providers' documentation (see ``shared/providers.md``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
import responses

from providers.base import ProviderAdapter
from providers.chat import (
    ChatChunk,
    ChatMessage,
    ChatRequest,
    ChatResult,
    UpstreamAuthError,
    UpstreamBadRequest,
    UpstreamError,
    UpstreamNoCredit,
    UpstreamRateLimited,
    UpstreamTimeout,
    Usage,
)
from providers.registry import get_adapter_class
from tests.providers.fakes import (
    ANTHROPIC,
    AZURE,
    AZURE_V1,
    BEDROCK_API_KEY,
    BEDROCK_IAM,
    BEDROCK_IAM_TEMP,
    CLOUDFLARE_USER,
    COHERE,
    DATABRICKS,
    GOOGLE,
    GROQ,
    INFLECTION,
    OLLAMA_CLOUD,
    REPLICATE,
    adapter_for,
)

BEDROCK_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BEDROCK_URL = (
    "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
)
CLOUDFLARE_MODEL = "@cf/meta/llama-3.1-8b-instruct"
CLOUDFLARE_URL = f"https://api.cloudflare.com/client/v4/accounts/{CLOUDFLARE_USER['account_id']}/ai/run/@cf/meta/llama-3.1-8b-instruct"
AZURE_DATED_URL = (
    "https://my-resource.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21"
)
AZURE_V1_URL = "https://my-foundry.cognitiveservices.azure.com/openai/v1/chat/completions"
DATABRICKS_URL = "https://dbc-a1b2c3d4-e5f6.cloud.databricks.com/serving-endpoints/databricks-meta-llama-3-3-70b-instruct/invocations"
GOOGLE_URL = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
GOOGLE_STREAM_URL = (
    "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
)
OLLAMA_URL = "https://ollama.com/api/chat"
REPLICATE_URL = "https://api.replicate.com/v1/models/meta/meta-llama-3-8b-instruct/predictions"


# ---- the conversation every test sends -----------------------------------------------------------

SYSTEM = ChatMessage("system", "You are a terse assistant.")
STYLE = ChatMessage("system", "Answer in English.")
USER_1 = ChatMessage("user", "What is the capital of France?")
ASSISTANT_1 = ChatMessage("assistant", "Paris.")
USER_2 = ChatMessage("user", "And of Italy?")
CONVERSATION = (SYSTEM, USER_1, ASSISTANT_1, STYLE, USER_2)
JOINED_SYSTEM = "You are a terse assistant.\n\nAnswer in English."
OPENAI_MESSAGES = [
    {"role": "system", "content": "You are a terse assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "system", "content": "Answer in English."},
    {"role": "user", "content": "And of Italy?"},
]
NON_SYSTEM_MESSAGES = [
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
]


def chat_request(model: str, *, max_tokens: int | None = 64, temperature: float | None = 0.2) -> ChatRequest:
    return ChatRequest(model=model, messages=CONVERSATION, max_tokens=max_tokens, temperature=temperature)


def only_call(mock: responses.RequestsMock) -> requests.PreparedRequest:
    assert len(mock.calls) == 1
    request = mock.calls[0].request
    assert isinstance(request, requests.PreparedRequest)
    return request


def body_of(request: requests.PreparedRequest) -> Any:
    assert request.body is not None
    return json.loads(request.body)


def sse(*events: dict[str, Any], done: bool = False, named: bool = False) -> str:
    """A server-sent-events body; ``named`` adds ``event: <type>`` lines as Anthropic sends them."""
    blocks = []
    for event in events:
        prefix = f"event: {event['type']}\n" if named else ""
        blocks.append(f"{prefix}data: {json.dumps(event)}\n\n")
    if done:
        blocks.append("data: [DONE]\n\n")
    return "".join(blocks)


def collect(chunks: Any) -> tuple[str, Usage | None, str | None]:
    """Joined text, the last usage and the last finish reason, as the gateway reads a stream."""
    text, usage, finish = "", None, None
    for chunk in chunks:
        assert isinstance(chunk, ChatChunk)
        text += chunk.text
        usage = chunk.usage or usage
        finish = chunk.finish_reason or finish
    return text, usage, finish


# ---- OpenAI-compatible (Groq) ----------------------------------------------------------------------


GROQ_URL = "https://api.groq.com/openai/v1/chat/completions"


def test_groq_chat_sends_openai_body_with_bearer_key_and_reads_choices(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        GROQ_URL,
        json={
            "id": "chatcmpl-9f1c",
            "object": "chat.completion",
            "model": "llama-3.1-8b-instant",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Rome."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 41, "completion_tokens": 3, "total_tokens": 44},
        },
    )

    result = adapter_for("groq", "52 chars").chat(chat_request("llama-3.1-8b-instant"))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", GROQ_URL)
    assert sent.headers["Authorization"] == f"Bearer {GROQ}"
    assert body_of(sent) == {
        "model": "llama-3.1-8b-instant",
        "messages": OPENAI_MESSAGES,
        "max_tokens": 64,
        "temperature": 0.2,
    }
    assert result == ChatResult("Rome.", Usage(41, 3, 44), "stop", "llama-3.1-8b-instant")


def test_groq_stream_yields_deltas_and_the_final_usage_chunk(provider_mock: responses.RequestsMock) -> None:
    base = {"id": "chatcmpl-9f1c", "object": "chat.completion.chunk", "model": "llama-3.1-8b-instant"}
    provider_mock.add(
        responses.POST,
        GROQ_URL,
        body=sse(
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
            {**base, "choices": [{"index": 0, "delta": {"content": "Ro"}, "finish_reason": None}]},
            {**base, "choices": [{"index": 0, "delta": {"content": "me."}, "finish_reason": None}]},
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {**base, "choices": [], "usage": {"prompt_tokens": 41, "completion_tokens": 3, "total_tokens": 44}},
            done=True,
        ),
        content_type="text/event-stream",
    )

    text, usage, finish = collect(adapter_for("groq", "52 chars").stream_chat(chat_request("llama-3.1-8b-instant")))

    body = body_of(only_call(provider_mock))
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert (text, usage, finish) == ("Rome.", Usage(41, 3, 44), "stop")


# ---- Anthropic ---------------------------------------------------------------------------------------

ANTHROPIC_URL = "https://api.anthropic.com/v1/messages"
ANTHROPIC_MESSAGE = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "thinking", "thinking": "Italy's capital is Rome.", "signature": "EqQBCgIYAhIM"},
        {"type": "text", "text": "Rome"},
        {"type": "text", "text": "."},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 38, "output_tokens": 5},
}


def test_anthropic_chat_sends_system_apart_from_messages_and_reads_text_blocks(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(responses.POST, ANTHROPIC_URL, json=ANTHROPIC_MESSAGE)

    result = adapter_for("anthropic", "api03 key").chat(chat_request("claude-sonnet-4-5"))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", ANTHROPIC_URL)
    assert sent.headers["x-api-key"] == ANTHROPIC
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in sent.headers
    assert body_of(sent) == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "messages": NON_SYSTEM_MESSAGES,
        "system": JOINED_SYSTEM,
        "temperature": 0.2,
    }
    assert result == ChatResult("Rome.", Usage(38, 5, 43), "end_turn", "claude-sonnet-4-5-20250929")
    assert result.openai_finish_reason == "stop"


def test_anthropic_chat_without_max_tokens_sends_the_required_default_and_no_empty_system(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(responses.POST, ANTHROPIC_URL, json=ANTHROPIC_MESSAGE)
    request = ChatRequest(model="claude-haiku-4-5", messages=(USER_1,))

    adapter_for("anthropic", "api03 key").chat(request)

    assert body_of(only_call(provider_mock)) == {
        "model": "claude-haiku-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
    }


def test_anthropic_stream_reads_text_deltas_and_counts_from_message_start_and_delta(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        ANTHROPIC_URL,
        body=sse(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_01",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [],
                    "stop_reason": None,
                    "usage": {"input_tokens": 38, "output_tokens": 1},
                },
            },
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "ping"},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Ro"}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "me."}},
            {"type": "content_block_stop", "index": 0},
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
            {"type": "message_stop"},
            named=True,
        ),
        content_type="text/event-stream",
    )

    text, usage, finish = collect(adapter_for("anthropic", "api03 key").stream_chat(chat_request("claude-sonnet-4-5")))

    assert body_of(only_call(provider_mock))["stream"] is True
    assert (text, usage, finish) == ("Rome.", Usage(38, 5, 43), "end_turn")


def test_anthropic_error_event_mid_stream_raises_an_upstream_error(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(
        responses.POST,
        ANTHROPIC_URL,
        body=sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Ro"}},
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
            named=True,
        ),
        content_type="text/event-stream",
    )
    chunks = adapter_for("anthropic", "api03 key").stream_chat(chat_request("claude-sonnet-4-5"))

    with pytest.raises(UpstreamError, match="Overloaded"):
        collect(chunks)


def test_anthropic_low_credit_balance_is_no_credit_not_a_bad_request(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(
        responses.POST,
        ANTHROPIC_URL,
        status=400,
        json={
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "Your credit balance is too low to access the Anthropic API. Please go to Plans & "
                "Billing to upgrade or purchase credits.",
            },
        },
    )

    with pytest.raises(UpstreamNoCredit) as excinfo:
        adapter_for("anthropic", "api03 key").chat(chat_request("claude-sonnet-4-5"))

    assert excinfo.value.failover is True
    assert excinfo.value.upstream_status == 400


# ---- Google (Gemini API) -----------------------------------------------------------------------------

GOOGLE_RESPONSE = {
    "candidates": [
        {
            "content": {"parts": [{"text": "Rome"}, {"text": "."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {"promptTokenCount": 19, "candidatesTokenCount": 2, "totalTokenCount": 21},
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mOqhaN2rLp6z1MkPqeDj6Ak",
}


def test_google_chat_sends_contents_with_model_role_and_key_only_in_header(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(responses.POST, GOOGLE_URL, json=GOOGLE_RESPONSE)

    result = adapter_for("google", "auth key").chat(chat_request("gemini-2.5-flash"))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", GOOGLE_URL)
    assert sent.headers["x-goog-api-key"] == GOOGLE
    assert GOOGLE not in (sent.url or "")
    assert body_of(sent) == {
        "contents": [
            {"role": "user", "parts": [{"text": "What is the capital of France?"}]},
            {"role": "model", "parts": [{"text": "Paris."}]},
            {"role": "user", "parts": [{"text": "And of Italy?"}]},
        ],
        "systemInstruction": {"parts": [{"text": JOINED_SYSTEM}]},
        "generationConfig": {"maxOutputTokens": 64, "temperature": 0.2},
    }
    assert result == ChatResult("Rome.", Usage(19, 2, 21), "STOP", "gemini-2.5-flash")


def test_google_model_resource_name_prefix_is_accepted_and_options_left_out_when_unset(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(responses.POST, GOOGLE_URL, json=GOOGLE_RESPONSE)

    adapter_for("google", "auth key").chat(ChatRequest(model="models/gemini-2.5-flash", messages=(USER_1,)))

    sent = only_call(provider_mock)
    assert sent.url == GOOGLE_URL
    assert body_of(sent) == {"contents": [{"role": "user", "parts": [{"text": "What is the capital of France?"}]}]}


def test_google_stream_uses_stream_generate_content_sse_and_the_last_usage(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        GOOGLE_STREAM_URL,
        body=sse(
            {
                "candidates": [{"content": {"parts": [{"text": "Ro"}], "role": "model"}, "index": 0}],
                "usageMetadata": {"promptTokenCount": 19, "totalTokenCount": 19},
                "modelVersion": "gemini-2.5-flash",
            },
            {
                "candidates": [
                    {"content": {"parts": [{"text": "me."}], "role": "model"}, "finishReason": "STOP", "index": 0}
                ],
                "usageMetadata": {"promptTokenCount": 19, "candidatesTokenCount": 2, "totalTokenCount": 21},
                "modelVersion": "gemini-2.5-flash",
            },
        ),
        content_type="text/event-stream",
    )

    text, usage, finish = collect(adapter_for("google", "auth key").stream_chat(chat_request("gemini-2.5-flash")))

    sent = only_call(provider_mock)
    assert sent.url == GOOGLE_STREAM_URL
    assert sent.headers["x-goog-api-key"] == GOOGLE
    assert (text, usage, finish) == ("Rome.", Usage(19, 2, 21), "STOP")


def test_google_api_key_invalid_answer_is_an_auth_error_that_marks_the_key_invalid(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        GOOGLE_URL,
        status=400,
        json={
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            }
        },
    )

    with pytest.raises(UpstreamAuthError) as excinfo:
        adapter_for("google", "auth key").chat(chat_request("gemini-2.5-flash"))

    assert excinfo.value.upstream_status == 401


def test_google_blocked_prompt_returns_empty_text_with_the_block_reason(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(
        responses.POST,
        GOOGLE_URL,
        json={
            "promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": {"promptTokenCount": 19, "totalTokenCount": 19},
            "modelVersion": "gemini-2.5-flash",
        },
    )

    result = adapter_for("google", "auth key").chat(chat_request("gemini-2.5-flash"))

    assert (result.text, result.finish_reason, result.openai_finish_reason) == ("", "SAFETY", "content_filter")


# ---- Azure OpenAI ------------------------------------------------------------------------------------

AZURE_COMPLETION = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "model": "gpt-4o-mini-2024-07-18",
    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Rome."},
            "finish_reason": "stop",
            "content_filter_results": {},
        }
    ],
    "usage": {"prompt_tokens": 40, "completion_tokens": 3, "total_tokens": 43},
}


def test_azure_with_dated_api_version_calls_the_deployment_path_with_api_key_header(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(responses.POST, AZURE_DATED_URL, json=AZURE_COMPLETION)

    # The caller's model name is informational: the deployment serves.
    result = adapter_for("azure", "legacy 32-hex key").chat(chat_request("gpt-4o"))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", AZURE_DATED_URL)
    assert sent.headers["api-key"] == AZURE["api_key"]
    assert "Authorization" not in sent.headers
    assert body_of(sent) == {"messages": OPENAI_MESSAGES, "max_tokens": 64, "temperature": 0.2}
    assert result == ChatResult("Rome.", Usage(40, 3, 43), "stop", "gpt-4o-mini-2024-07-18")


def test_azure_without_api_version_calls_the_v1_api_with_the_deployment_as_model(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(responses.POST, AZURE_V1_URL, json=AZURE_COMPLETION)

    result = adapter_for("azure", "84-char key, v1 API").chat(chat_request("gpt-4o"))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", AZURE_V1_URL)
    assert sent.headers["api-key"] == AZURE_V1["api_key"]
    assert body_of(sent) == {
        "model": "prod.gpt-4o_2",
        "messages": OPENAI_MESSAGES,
        "max_tokens": 64,
        "temperature": 0.2,
    }
    assert result.text == "Rome."


def test_azure_api_version_v1_also_selects_the_v1_api(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(responses.POST, AZURE_V1_URL, json=AZURE_COMPLETION)
    adapter = get_adapter_class("azure")({**AZURE_V1, "api_version": "v1"})

    adapter.chat(chat_request("gpt-4o"))

    assert only_call(provider_mock).url == AZURE_V1_URL


def test_azure_api_version_preview_calls_the_v1_api_with_that_api_version(
    provider_mock: responses.RequestsMock,
) -> None:
    url = AZURE_V1_URL + "?api-version=preview"
    provider_mock.add(responses.POST, url, json=AZURE_COMPLETION)
    adapter = get_adapter_class("azure")({**AZURE_V1, "api_version": "preview"})

    adapter.chat(chat_request("gpt-4o"))

    sent = only_call(provider_mock)
    assert sent.url == url
    assert body_of(sent)["model"] == "prod.gpt-4o_2"


def test_azure_stream_reads_openai_chunks_after_the_prompt_filter_chunk(provider_mock: responses.RequestsMock) -> None:
    base = {"id": "chatcmpl-B9", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18"}
    provider_mock.add(
        responses.POST,
        AZURE_DATED_URL,
        body=sse(
            {"id": "", "object": "", "model": "", "choices": [], "prompt_filter_results": [{"prompt_index": 0}]},
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Ro"}, "finish_reason": None}]},
            {**base, "choices": [{"index": 0, "delta": {"content": "me."}, "finish_reason": "stop"}]},
            {**base, "choices": [], "usage": {"prompt_tokens": 40, "completion_tokens": 3, "total_tokens": 43}},
            done=True,
        ),
        content_type="text/event-stream",
    )

    text, usage, finish = collect(adapter_for("azure", "legacy 32-hex key").stream_chat(chat_request("gpt-4o")))

    body = body_of(only_call(provider_mock))
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})
    assert (text, usage, finish) == ("Rome.", Usage(40, 3, 43), "stop")


def test_azure_stream_on_an_api_version_before_stream_options_leaves_them_out(
    provider_mock: responses.RequestsMock,
) -> None:
    url = "https://my-resource.openai.azure.com/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-02-01"
    provider_mock.add(responses.POST, url, body=sse(done=True), content_type="text/event-stream")
    adapter = get_adapter_class("azure")({**AZURE, "api_version": "2024-02-01"})

    collect(adapter.stream_chat(chat_request("gpt-4o")))

    body = body_of(only_call(provider_mock))
    assert body["stream"] is True
    assert "stream_options" not in body


def test_azure_endpoint_on_a_private_address_is_refused_before_any_request(
    provider_mock: responses.RequestsMock,
) -> None:
    adapter = get_adapter_class("azure")({**AZURE, "endpoint_url": "https://internal.example.com"})

    with pytest.raises(UpstreamBadRequest, match="private"):
        adapter.chat(chat_request("gpt-4o"))

    assert len(provider_mock.calls) == 0


# ---- Databricks ----------------------------------------------------------------------------------


def test_databricks_calls_the_serving_endpoint_named_by_the_model_with_bearer_token(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        DATABRICKS_URL,
        json={
            "id": "chatcmpl_5f1e",
            "object": "chat.completion",
            "model": "meta-llama-3.3-70b-instruct-121024",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Rome."}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 45, "completion_tokens": 3, "total_tokens": 48},
        },
    )

    result = adapter_for("databricks", "PAT on AWS").chat(chat_request("databricks-meta-llama-3-3-70b-instruct"))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", DATABRICKS_URL)
    assert sent.headers["Authorization"] == f"Bearer {DATABRICKS['api_token']}"
    assert body_of(sent) == {"messages": OPENAI_MESSAGES, "max_tokens": 64, "temperature": 0.2}
    assert result == ChatResult("Rome.", Usage(45, 3, 48), "stop", "meta-llama-3.3-70b-instruct-121024")


# ---- AWS Bedrock (Converse) --------------------------------------------------------------------------

CONVERSE_RESPONSE = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Rome"}, {"text": "."}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 39, "outputTokens": 5, "totalTokens": 44},
    "metrics": {"latencyMs": 412},
}
CONVERSE_BODY = {
    "messages": [
        {"role": "user", "content": [{"text": "What is the capital of France?"}]},
        {"role": "assistant", "content": [{"text": "Paris."}]},
        {"role": "user", "content": [{"text": "And of Italy?"}]},
    ],
    "system": [{"text": JOINED_SYSTEM}],
    "inferenceConfig": {"maxTokens": 64, "temperature": 0.2},
}


def test_bedrock_converse_with_iam_credentials_is_sigv4_signed_for_bedrock_and_encodes_the_model_id(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(responses.POST, BEDROCK_URL, json=CONVERSE_RESPONSE)

    result = adapter_for("bedrock", "IAM long-term").chat(chat_request(BEDROCK_MODEL))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", BEDROCK_URL)
    authorization = sent.headers["Authorization"]
    assert authorization.startswith(f"AWS4-HMAC-SHA256 Credential={BEDROCK_IAM['access_key_id']}/")
    assert "/us-east-1/bedrock/aws4_request" in authorization
    assert "SignedHeaders=" in authorization and "Signature=" in authorization
    assert "X-Amz-Date" in sent.headers
    assert BEDROCK_IAM["secret_access_key"] not in str(sent.headers)
    assert body_of(sent) == CONVERSE_BODY
    assert result == ChatResult("Rome.", Usage(39, 5, 44), "end_turn", BEDROCK_MODEL)


def test_bedrock_temporary_credentials_send_their_session_token(provider_mock: responses.RequestsMock) -> None:
    url = "https://bedrock-runtime.eu-central-1.amazonaws.com/model/amazon.nova-lite-v1%3A0/converse"
    provider_mock.add(responses.POST, url, json=CONVERSE_RESPONSE)

    adapter_for("bedrock", "IAM temporary").chat(chat_request("amazon.nova-lite-v1:0"))

    sent = only_call(provider_mock)
    assert sent.url == url
    assert sent.headers["X-Amz-Security-Token"] == BEDROCK_IAM_TEMP["session_token"]
    assert "/eu-central-1/bedrock/aws4_request" in sent.headers["Authorization"]


def test_bedrock_api_key_is_sent_as_bearer_token(provider_mock: responses.RequestsMock) -> None:
    url = "https://bedrock-runtime.us-west-2.amazonaws.com/model/amazon.nova-micro-v1%3A0/converse"
    provider_mock.add(responses.POST, url, json=CONVERSE_RESPONSE)

    result = adapter_for("bedrock", "long-term API key").chat(
        ChatRequest(model="amazon.nova-micro-v1:0", messages=(USER_1,))
    )

    sent = only_call(provider_mock)
    assert sent.url == url
    assert sent.headers["Authorization"] == f"Bearer {BEDROCK_API_KEY['bedrock_api_key']}"
    assert body_of(sent) == {"messages": [{"role": "user", "content": [{"text": "What is the capital of France?"}]}]}
    assert result.text == "Rome."


def test_bedrock_inference_profile_arn_is_one_encoded_path_segment(provider_mock: responses.RequestsMock) -> None:
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0"
    url = (
        "https://bedrock-runtime.us-east-1.amazonaws.com/model/"
        "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.amazon.nova-lite-v1%3A0/converse"
    )
    provider_mock.add(responses.POST, url, json=CONVERSE_RESPONSE)

    adapter_for("bedrock", "IAM long-term").chat(chat_request(arn))

    assert only_call(provider_mock).url == url


@pytest.mark.parametrize(
    ("status", "error_type", "message", "expected", "upstream_status"),
    [
        pytest.param(
            403,
            "UnrecognizedClientException:http://internal.amazon.com/coral/com.amazon.coral.service/",
            "The security token included in the request is invalid.",
            UpstreamAuthError,
            401,
            id="UnrecognizedClientException",
        ),
        pytest.param(
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.",
            UpstreamAuthError,
            401,
            id="InvalidClientTokenId",
        ),
        pytest.param(
            403,
            "ExpiredTokenException",
            "The security token included in the request is expired",
            UpstreamAuthError,
            401,
            id="ExpiredTokenException",
        ),
        pytest.param(
            403,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
            UpstreamAuthError,
            401,
            id="SignatureDoesNotMatch",
        ),
        pytest.param(
            403,
            "AccessDeniedException",
            "You don't have access to the model with the specified model ID.",
            UpstreamAuthError,
            403,
            id="AccessDeniedException",
        ),
        pytest.param(
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
            UpstreamRateLimited,
            429,
            id="ThrottlingException",
        ),
        pytest.param(
            400,
            "ValidationException",
            "The provided model identifier is invalid.",
            UpstreamBadRequest,
            400,
            id="ValidationException",
        ),
        pytest.param(
            404,
            "ResourceNotFoundException",
            "Model use case details have not been submitted for this account.",
            UpstreamBadRequest,
            404,
            id="ResourceNotFoundException",
        ),
        pytest.param(
            500,
            "InternalServerException",
            "The server encountered an internal error.",
            UpstreamError,
            500,
            id="InternalServerException",
        ),
    ],
)
def test_bedrock_error_type_decides_the_upstream_error(
    provider_mock: responses.RequestsMock,
    status: int,
    error_type: str,
    message: str,
    expected: type[UpstreamError],
    upstream_status: int,
) -> None:
    provider_mock.add(
        responses.POST, BEDROCK_URL, status=status, headers={"x-amzn-ErrorType": error_type}, json={"message": message}
    )

    with pytest.raises(UpstreamError) as excinfo:
        adapter_for("bedrock", "IAM long-term").chat(chat_request(BEDROCK_MODEL))

    assert type(excinfo.value) is expected
    assert excinfo.value.upstream_status == upstream_status
    assert message in excinfo.value.message


def test_bedrock_error_type_in_the_body_is_read_when_the_header_is_missing(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        BEDROCK_URL,
        status=403,
        json={
            "__type": "com.amazon.coral.service#UnrecognizedClientException",
            "Message": "The security token included in the request is invalid.",
        },
    )

    with pytest.raises(UpstreamAuthError) as excinfo:
        adapter_for("bedrock", "IAM long-term").chat(chat_request(BEDROCK_MODEL))

    assert excinfo.value.upstream_status == 401
    assert "The security token included in the request is invalid." in excinfo.value.message


# ---- Cohere ------------------------------------------------------------------------------------------

COHERE_URL = "https://api.cohere.com/v2/chat"


def test_cohere_v2_chat_sends_all_messages_with_bearer_key_and_reads_text_parts(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        COHERE_URL,
        json={
            "id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4",
            "finish_reason": "COMPLETE",
            "message": {"role": "assistant", "content": [{"type": "text", "text": "Rome."}]},
            "usage": {
                "billed_units": {"input_tokens": 30, "output_tokens": 2},
                "tokens": {"input_tokens": 236, "output_tokens": 2},
            },
        },
    )

    result = adapter_for("cohere", "key").chat(chat_request("command-a-03-2025"))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", COHERE_URL)
    assert sent.headers["Authorization"] == f"Bearer {COHERE}"
    assert body_of(sent) == {
        "model": "command-a-03-2025",
        "messages": OPENAI_MESSAGES,
        "max_tokens": 64,
        "temperature": 0.2,
    }
    assert result == ChatResult("Rome.", Usage(236, 2, 238), "COMPLETE", "command-a-03-2025")


def test_cohere_usage_falls_back_to_billed_units(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(
        responses.POST,
        COHERE_URL,
        json={
            "id": "c14c80c3",
            "finish_reason": "MAX_TOKENS",
            "message": {"role": "assistant", "content": [{"type": "text", "text": "Ro"}]},
            "usage": {"billed_units": {"input_tokens": 30, "output_tokens": 1}},
        },
    )

    result = adapter_for("cohere", "key").chat(chat_request("command-r7b-12-2024"))

    assert (result.usage, result.finish_reason, result.openai_finish_reason) == (
        Usage(30, 1, 31),
        "MAX_TOKENS",
        "length",
    )


# ---- Cloudflare Workers AI ---------------------------------------------------------------------------


def test_cloudflare_runs_the_model_under_the_account_keeping_its_slashes(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        CLOUDFLARE_URL,
        json={
            "result": {
                "response": "Rome.",
                "usage": {"prompt_tokens": 52, "completion_tokens": 3, "total_tokens": 55},
            },
            "success": True,
            "errors": [],
            "messages": [],
        },
    )

    result = adapter_for("cloudflare", "user token").chat(chat_request(CLOUDFLARE_MODEL))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", CLOUDFLARE_URL)
    assert sent.headers["Authorization"] == f"Bearer {CLOUDFLARE_USER['api_token']}"
    assert body_of(sent) == {"messages": OPENAI_MESSAGES, "max_tokens": 64, "temperature": 0.2}
    assert result == ChatResult("Rome.", Usage(52, 3, 55), None, CLOUDFLARE_MODEL)


def test_cloudflare_success_false_in_a_200_is_an_upstream_error(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(
        responses.POST,
        CLOUDFLARE_URL,
        json={
            "result": None,
            "success": False,
            "errors": [{"code": 3040, "message": "Capacity temporarily exceeded, please try again."}],
            "messages": [],
        },
    )

    with pytest.raises(UpstreamError, match="Capacity temporarily exceeded"):
        adapter_for("cloudflare", "user token").chat(chat_request(CLOUDFLARE_MODEL))


@pytest.mark.parametrize("model", ["@cf/meta/../../../../user/tokens/verify", "@cf//llama", ""])
def test_cloudflare_model_with_dot_or_empty_segments_is_refused_before_any_request(
    provider_mock: responses.RequestsMock, model: str
) -> None:
    with pytest.raises(UpstreamBadRequest):
        adapter_for("cloudflare", "user token").chat(chat_request(model))

    assert len(provider_mock.calls) == 0


# ---- Replicate ---------------------------------------------------------------------------------------


def prediction(status: str, output: Any, **extra: Any) -> dict[str, Any]:
    return {
        "id": "gm3qorzdhgbfurvjtvhg6dckhu",
        "model": "meta/meta-llama-3-8b-instruct",
        "version": "dp-cf38a56e-4d40-4a48-b14a-fb5f8ee3ba0d",
        "status": status,
        "output": output,
        "error": None,
        "created_at": "2026-08-27T10:12:03.812Z",
        **extra,
    }


def test_replicate_creates_a_waiting_prediction_with_the_flattened_conversation(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        REPLICATE_URL,
        status=201,
        json=prediction("succeeded", ["", "Ro", "me", "."], metrics={"predict_time": 0.31}),
    )

    result = adapter_for("replicate", "token").chat(chat_request("meta/meta-llama-3-8b-instruct"))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", REPLICATE_URL)
    assert sent.headers["Authorization"] == f"Bearer {REPLICATE}"
    assert sent.headers["Prefer"] == "wait"
    assert body_of(sent) == {
        "input": {
            "prompt": "User: What is the capital of France?\n\nAssistant: Paris.\n\nUser: And of Italy?\n\nAssistant:",
            "system_prompt": JOINED_SYSTEM,
            "max_tokens": 64,
            "max_new_tokens": 64,
            "temperature": 0.2,
        }
    }
    assert result == ChatResult("Rome.", None, None, "meta/meta-llama-3-8b-instruct")


def test_replicate_single_user_message_is_the_prompt_and_string_output_is_the_text(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        REPLICATE_URL,
        status=201,
        json=prediction("succeeded", "Paris.", metrics={"input_token_count": 12, "output_token_count": 2}),
    )

    result = adapter_for("replicate", "token").chat(
        ChatRequest(model="meta/meta-llama-3-8b-instruct", messages=(USER_1,))
    )

    assert body_of(only_call(provider_mock)) == {"input": {"prompt": "What is the capital of France?"}}
    assert (result.text, result.usage) == ("Paris.", Usage(12, 2, 14))


def test_replicate_prediction_still_running_after_the_wait_is_a_timeout(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(responses.POST, REPLICATE_URL, status=201, json=prediction("starting", None))

    with pytest.raises(UpstreamTimeout, match="did not finish in time"):
        adapter_for("replicate", "token").chat(chat_request("meta/meta-llama-3-8b-instruct"))


def test_replicate_failed_prediction_is_an_upstream_error_with_its_error(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(
        responses.POST,
        REPLICATE_URL,
        status=201,
        json={**prediction("failed", None), "error": "CUDA out of memory"},
    )

    with pytest.raises(UpstreamError, match="failed: CUDA out of memory"):
        adapter_for("replicate", "token").chat(chat_request("meta/meta-llama-3-8b-instruct"))


@pytest.mark.parametrize("model", ["llama-3-8b", "meta/llama/extra", "../account", "meta/x:5c7d5dc6dd8bf75c"])
def test_replicate_model_that_is_not_owner_slash_name_is_a_bad_request_without_a_call(
    provider_mock: responses.RequestsMock, model: str
) -> None:
    with pytest.raises(UpstreamBadRequest, match="owner/name"):
        adapter_for("replicate", "token").chat(chat_request(model))

    assert len(provider_mock.calls) == 0


# ---- Inflection ----------------------------------------------------------------------------------

INFLECTION_URL = "https://layercake.pubwestus3.inf7ks8.com/external/api/inference"


def test_inflection_sends_the_model_as_config_and_typed_context(provider_mock: responses.RequestsMock) -> None:
    provider_mock.add(responses.POST, INFLECTION_URL, json={"created": 1756289523.93, "text": "Rome."})

    result = adapter_for("inflection", "key").chat(chat_request("inflection_3_pi"))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", INFLECTION_URL)
    assert sent.headers["Authorization"] == f"Bearer {INFLECTION}"
    assert body_of(sent) == {
        "config": "inflection_3_pi",
        "context": [
            {"type": "Instruction", "text": "You are a terse assistant."},
            {"type": "Human", "text": "What is the capital of France?"},
            {"type": "AI", "text": "Paris."},
            {"type": "Instruction", "text": "Answer in English."},
            {"type": "Human", "text": "And of Italy?"},
        ],
    }
    assert result == ChatResult("Rome.", None, None, "inflection_3_pi")


# ---- Ollama ------------------------------------------------------------------------------------------


def test_ollama_chat_sends_options_and_stream_false_and_reads_eval_counts(
    provider_mock: responses.RequestsMock,
) -> None:
    provider_mock.add(
        responses.POST,
        OLLAMA_URL,
        json={
            "model": "llama3.2",
            "created_at": "2026-08-27T10:12:03.812Z",
            "message": {"role": "assistant", "content": "Rome."},
            "done": True,
            "done_reason": "stop",
            "total_duration": 812345678,
            "prompt_eval_count": 44,
            "eval_count": 3,
        },
    )

    result = adapter_for("ollama", "ollama cloud").chat(chat_request("llama3.2"))

    sent = only_call(provider_mock)
    assert (sent.method, sent.url) == ("POST", OLLAMA_URL)
    assert sent.headers["Authorization"] == f"Bearer {OLLAMA_CLOUD['api_key']}"
    assert body_of(sent) == {
        "model": "llama3.2",
        "messages": OPENAI_MESSAGES,
        "stream": False,
        "options": {"num_predict": 64, "temperature": 0.2},
    }
    assert result == ChatResult("Rome.", Usage(44, 3, 47), "stop", "llama3.2")


def test_ollama_local_server_over_http_is_called_without_auth(provider_mock: responses.RequestsMock) -> None:
    url = "http://gpu-box.example.net:11434/api/chat"
    provider_mock.add(
        responses.POST,
        url,
        json={"model": "qwen2.5", "message": {"role": "assistant", "content": "Rome."}, "done": True},
    )
    adapter = get_adapter_class("ollama")({"base_url": "http://gpu-box.example.net:11434"})

    result = adapter.chat(ChatRequest(model="qwen2.5", messages=(USER_1,)))

    sent = only_call(provider_mock)
    assert sent.url == url
    assert "Authorization" not in sent.headers
    assert body_of(sent) == {
        "model": "qwen2.5",
        "messages": [{"role": "user", "content": "What is the capital of France?"}],
        "stream": False,
    }
    assert (result.text, result.usage) == ("Rome.", None)


def test_ollama_stream_reads_ndjson_lines_and_the_counts_of_the_done_line(
    provider_mock: responses.RequestsMock,
) -> None:
    lines = [
        {"model": "llama3.2", "message": {"role": "assistant", "content": "Ro"}, "done": False},
        {"model": "llama3.2", "message": {"role": "assistant", "content": "me."}, "done": False},
        {
            "model": "llama3.2",
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 44,
            "eval_count": 3,
        },
    ]
    provider_mock.add(
        responses.POST,
        OLLAMA_URL,
        body="".join(json.dumps(line) + "\n" for line in lines),
        content_type="application/x-ndjson",
    )

    text, usage, finish = collect(adapter_for("ollama", "ollama cloud").stream_chat(chat_request("llama3.2")))

    assert body_of(only_call(provider_mock))["stream"] is True
    assert (text, usage, finish) == ("Rome.", Usage(44, 3, 47), "stop")


def test_ollama_server_on_a_private_address_is_refused_before_any_request(
    provider_mock: responses.RequestsMock,
) -> None:
    adapter = get_adapter_class("ollama")({"base_url": "http://internal.example.com:11434"})

    with pytest.raises(UpstreamBadRequest, match="private"):
        adapter.chat(chat_request("llama3.2"))

    assert len(provider_mock.calls) == 0


# ---- error answers, the same rules for every provider ----------------------------------------------


@dataclass(frozen=True)
class Case:
    """One provider's chat call and its own error answers."""

    provider_id: str
    label: str
    model: str
    url: str
    # The provider's answer to an unknown model, and the message of it the caller must see.
    not_found_status: int
    not_found_body: dict[str, Any]
    not_found_message: str
    not_found_headers: dict[str, str] = field(default_factory=dict)
    # The provider's answer to a bad key.
    bad_key_status: int = 401
    bad_key_body: dict[str, Any] = field(default_factory=lambda: {"error": {"message": "Invalid API key"}})
    bad_key_headers: dict[str, str] = field(default_factory=dict)
    rate_limit_headers: dict[str, str] = field(default_factory=dict)

    def adapter(self) -> ProviderAdapter:
        return adapter_for(self.provider_id, self.label)

    def request(self) -> ChatRequest:
        return ChatRequest(model=self.model, messages=(USER_1,))


CASES = [
    Case(
        "groq",
        "52 chars",
        "llama-9-nope",
        GROQ_URL,
        404,
        {
            "error": {
                "message": "The model `llama-9-nope` does not exist or you do not have access to it.",
                "type": "invalid_request_error",
                "code": "model_not_found",
            }
        },
        "The model `llama-9-nope` does not exist",
    ),
    Case(
        "anthropic",
        "api03 key",
        "claude-nope",
        ANTHROPIC_URL,
        404,
        {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-nope"}},
        "model: claude-nope",
        bad_key_body={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
    ),
    Case(
        "google",
        "auth key",
        "gemini-2.5-flash",
        GOOGLE_URL,
        404,
        {
            "error": {
                "code": 404,
                "message": "models/gemini-2.5-flash is not found for API version v1beta, or is not supported for "
                "generateContent.",
                "status": "NOT_FOUND",
            }
        },
        "is not found for API version v1beta",
        # Google answers a bad key with 400 INVALID_ARGUMENT / API_KEY_INVALID, not 401.
        bad_key_status=400,
        bad_key_body={
            "error": {
                "code": 400,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "INVALID_ARGUMENT",
                "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}],
            }
        },
    ),
    Case(
        "azure",
        "legacy 32-hex key",
        "gpt-4o",
        AZURE_DATED_URL,
        404,
        {
            "error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist.",
            }
        },
        "The API deployment for this resource does not exist.",
        bad_key_body={
            "error": {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint.",
            }
        },
    ),
    Case(
        "databricks",
        "PAT on AWS",
        "databricks-meta-llama-3-3-70b-instruct",
        DATABRICKS_URL,
        404,
        {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "The given endpoint does not exist."},
        "The given endpoint does not exist.",
        bad_key_body={"error_code": "401", "message": "Credential was not sent or was of an unsupported type."},
    ),
    Case(
        "bedrock",
        "IAM long-term",
        BEDROCK_MODEL,
        BEDROCK_URL,
        400,
        {"message": "The provided model identifier is invalid."},
        "The provided model identifier is invalid.",
        not_found_headers={"x-amzn-ErrorType": "ValidationException"},
        bad_key_status=403,
        bad_key_body={"message": "The security token included in the request is invalid."},
        bad_key_headers={"x-amzn-ErrorType": "UnrecognizedClientException"},
        rate_limit_headers={"x-amzn-ErrorType": "ThrottlingException"},
    ),
    Case(
        "cohere",
        "key",
        "command-nope",
        COHERE_URL,
        404,
        {"id": "5f1e", "message": "model 'command-nope' not found, make sure the correct model ID was used."},
        "model 'command-nope' not found",
        bad_key_body={"id": "5f1e", "message": "invalid api token"},
    ),
    Case(
        "cloudflare",
        "user token",
        CLOUDFLARE_MODEL,
        CLOUDFLARE_URL,
        400,
        {
            "errors": [{"message": "No such model @cf/meta/llama-3.1-8b-instruct or task", "code": 5007}],
            "success": False,
            "result": {},
            "messages": [],
        },
        "No such model @cf/meta/llama-3.1-8b-instruct",
        bad_key_body={"errors": [{"code": 10000, "message": "Authentication error"}], "success": False},
    ),
    Case(
        "replicate",
        "token",
        "meta/meta-llama-3-8b-instruct",
        REPLICATE_URL,
        404,
        {"title": "Not found", "detail": "The requested resource could not be found.", "status": 404},
        "The requested resource could not be found.",
        bad_key_body={"title": "Unauthenticated", "detail": "You did not pass a valid authentication token"},
    ),
    Case(
        "inflection",
        "key",
        "inflection_9_nope",
        INFLECTION_URL,
        400,
        {"detail": "Unknown config: inflection_9_nope"},
        "Unknown config: inflection_9_nope",
        bad_key_body={"detail": "Invalid API key"},
    ),
    Case(
        "ollama",
        "ollama cloud",
        "llama-nope",
        OLLAMA_URL,
        404,
        {"error": 'model "llama-nope" not found, try pulling it first'},
        'model "llama-nope" not found',
        bad_key_body={"error": "unauthorized"},
    ),
]
PARAMS = [pytest.param(case, id=case.provider_id) for case in CASES]
STREAMING = [pytest.param(case, id=case.provider_id) for case in CASES if type(case.adapter()).streams]


def test_every_provider_with_its_own_chat_format_has_an_error_case() -> None:
    assert {c.provider_id for c in CASES} == {
        "groq",
        "anthropic",
        "google",
        "azure",
        "databricks",
        "bedrock",
        "cohere",
        "cloudflare",
        "replicate",
        "inflection",
        "ollama",
    }
    assert {c.values[0].provider_id for c in STREAMING} == {"groq", "anthropic", "google", "azure", "ollama"}


@pytest.mark.parametrize("case", PARAMS)
def test_bad_key_is_an_auth_error_reported_as_401(provider_mock: responses.RequestsMock, case: Case) -> None:
    provider_mock.add(
        responses.POST, case.url, status=case.bad_key_status, json=case.bad_key_body, headers=case.bad_key_headers
    )

    with pytest.raises(UpstreamAuthError) as excinfo:
        case.adapter().chat(case.request())

    assert excinfo.value.upstream_status == 401
    assert excinfo.value.failover is True


@pytest.mark.parametrize("case", PARAMS)
def test_rate_limit_is_rate_limited_with_retry_after(provider_mock: responses.RequestsMock, case: Case) -> None:
    provider_mock.add(
        responses.POST,
        case.url,
        status=429,
        json={"error": {"message": "Rate limit reached, please try again in 17s."}},
        headers={"Retry-After": "17", **case.rate_limit_headers},
    )

    with pytest.raises(UpstreamRateLimited) as excinfo:
        case.adapter().chat(case.request())

    assert excinfo.value.retry_after == 17
    assert excinfo.value.upstream_status == 429


@pytest.mark.parametrize("case", PARAMS)
def test_unknown_model_is_a_bad_request_carrying_the_providers_message(
    provider_mock: responses.RequestsMock, case: Case
) -> None:
    provider_mock.add(
        responses.POST,
        case.url,
        status=case.not_found_status,
        json=case.not_found_body,
        headers=case.not_found_headers,
    )

    with pytest.raises(UpstreamBadRequest) as excinfo:
        case.adapter().chat(case.request())

    assert case.not_found_message in excinfo.value.message
    assert excinfo.value.upstream_status == case.not_found_status


@pytest.mark.parametrize("case", PARAMS)
def test_server_error_is_a_plain_upstream_error(provider_mock: responses.RequestsMock, case: Case) -> None:
    provider_mock.add(responses.POST, case.url, status=500, json={"error": {"message": "Internal server error"}})

    with pytest.raises(UpstreamError) as excinfo:
        case.adapter().chat(case.request())

    assert type(excinfo.value) is UpstreamError
    assert excinfo.value.upstream_status == 500


@pytest.mark.parametrize("case", PARAMS)
def test_read_timeout_is_an_upstream_timeout(provider_mock: responses.RequestsMock, case: Case) -> None:
    provider_mock.add(responses.POST, case.url, body=requests.exceptions.ReadTimeout("Read timed out."))

    with pytest.raises(UpstreamTimeout):
        case.adapter().chat(case.request())


@pytest.mark.parametrize("case", STREAMING)
def test_stream_error_status_is_raised_before_the_first_chunk(
    provider_mock: responses.RequestsMock, case: Case
) -> None:
    """Failover can only happen before anything reached the caller: stream_chat itself raises."""
    url = GOOGLE_STREAM_URL if case.provider_id == "google" else case.url
    provider_mock.add(responses.POST, url, status=case.bad_key_status, json=case.bad_key_body)

    with pytest.raises(UpstreamAuthError):
        case.adapter().stream_chat(case.request())
