"""Inference endpoints: ``POST /api/inference`` (the service's own shape) and the OpenAI-compatible
``POST /v1/chat/completions`` and ``GET /v1/models``, plus ``GET /api/byok/resolve``."""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Iterator
from typing import Any, cast

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import ByokAPIView
from common.api import exception_handler as byok_exception_handler
from common.errors import InvalidInput
from common.schema import S, errors, obj, objs, ok
from gateway import resolution, services, stats
from gateway.byok import ByokContext, ByokMixin, mark_served
from gateway.usage import group_usage
from groups import selectors as group_selectors
from groups.models import User
from groups.roles import Cap
from providers.chat import ChatChunk, ChatMessage, ChatRequest, UpstreamError
from providers.registry import REGISTRY, get_adapter_class

ROLES = ("system", "user", "assistant")
logger = logging.getLogger("byok.gateway")


def _content_text(content: Any, *, index: int) -> str:
    """A message's content: a string, or OpenAI-style content parts of type text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise InvalidInput(
                    f"messages[{index}].content parts must be {{'type': 'text', 'text': '...'}}; "
                    "other part types are not supported.",
                    code="invalid_messages",
                )
            texts.append(part["text"])
        return "".join(texts)
    raise InvalidInput(f"messages[{index}].content must be a string.", code="invalid_messages")


def parse_messages(raw: Any) -> tuple[ChatMessage, ...]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInput(
            'messages must be a non-empty list like [{"role": "user", "content": "Hello"}].', code="invalid_messages"
        )
    messages = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("role") not in ROLES:
            raise InvalidInput(
                f"messages[{index}] needs a role ({', '.join(ROLES)}) and a content.", code="invalid_messages"
            )
        messages.append(ChatMessage(role=item["role"], content=_content_text(item.get("content"), index=index)))
    if not any(m.role == "user" for m in messages):
        raise InvalidInput("messages needs at least one message with role 'user'.", code="invalid_messages")
    return tuple(messages)


def parse_limits(data: dict[str, Any], *, max_keys: tuple[str, ...]) -> tuple[int | None, float | None]:
    max_tokens = next((data[k] for k in max_keys if data.get(k) is not None), None)
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 1_000_000
    ):
        raise InvalidInput(f"{max_keys[0]} must be a whole number from 1 to 1000000.", code="invalid_max_tokens")
    temperature = data.get("temperature")
    if temperature is not None and (
        isinstance(temperature, bool) or not isinstance(temperature, int | float) or not 0 <= temperature <= 2
    ):
        raise InvalidInput("temperature must be a number from 0 to 2.", code="invalid_temperature")
    return max_tokens, float(temperature) if temperature is not None else None


def _body(request: Request) -> dict[str, Any]:
    if not isinstance(request.data, dict):
        raise InvalidInput("The request body must be a JSON object.", code="invalid_request")
    return request.data


class InferenceInput(serializers.Serializer):
    provider = serializers.CharField()
    model = serializers.CharField()
    prompt = serializers.CharField(required=False)
    messages = serializers.ListField(child=serializers.DictField(), required=False)
    max_tokens = serializers.IntegerField(required=False)
    temperature = serializers.FloatField(required=False)
    group = serializers.CharField(required=False)


class OpenAIChatInput(serializers.Serializer):
    model = serializers.CharField(help_text="provider/model, e.g. openai/gpt-4o-mini")
    messages = serializers.ListField(child=serializers.DictField())
    max_tokens = serializers.IntegerField(required=False)
    max_completion_tokens = serializers.IntegerField(required=False)
    temperature = serializers.FloatField(required=False)
    stream = serializers.BooleanField(required=False)
    group = serializers.CharField(required=False, help_text="BYOK extension: the group whose key to use")


class InferenceView(ByokMixin, APIView):
    """``POST /api/inference``: call a provider with the caller's key (own, then group, then system)."""

    def byok_target(self, request: Request) -> tuple[str, str | None]:
        data = _body(request)
        provider, model = data.get("provider"), data.get("model")
        if not isinstance(provider, str) or not provider:
            raise InvalidInput(f"provider is required: one of {', '.join(REGISTRY)}.", code="missing_provider")
        if not isinstance(model, str) or not model.strip():
            raise InvalidInput("model is required, e.g. gpt-4o-mini.", code="missing_model")
        if data.get("messages") is not None:
            messages = parse_messages(data["messages"])
        elif isinstance(data.get("prompt"), str) and data["prompt"]:
            messages = (ChatMessage(role="user", content=data["prompt"]),)
        else:
            raise InvalidInput("Send a prompt (a string) or messages (a list).", code="missing_prompt")
        max_tokens, temperature = parse_limits(data, max_keys=("max_tokens",))
        self.chat_request = ChatRequest(
            model=model.strip(), messages=messages, max_tokens=max_tokens, temperature=temperature
        )
        group = data.get("group")
        return provider, group if isinstance(group, str) and group else None

    @extend_schema(
        summary="Call an LLM with your key (own, group, then system)",
        request=InferenceInput,
        responses=ok(
            "Inference",
            {
                "provider": S.CharField(),
                "model": S.CharField(),
                "text": S.CharField(),
                "finishReason": S.CharField(allow_null=True),
                "usage": obj("promptTokens, completionTokens, totalTokens"),
                "keySource": S.CharField(),
                "keyId": S.CharField(),
                "groupId": S.CharField(allow_null=True),
                "isBYOK": S.BooleanField(),
                "attempts": objs(),
                "latencyMs": S.IntegerField(),
            },
            extra=(429, 502, 504),
        ),
    )
    def post(self, request: Request) -> Response:
        byok: ByokContext = request.byok  # type: ignore[attr-defined]
        user = cast(User, request.user)
        outcome = services.chat_complete(user=user, candidates=byok.candidates, request=self.chat_request)
        mark_served(request, outcome.served_by)
        result = outcome.result
        return Response(
            {
                "success": True,
                "provider": byok.provider,
                "model": result.model,
                "text": result.text,
                "finishReason": result.finish_reason,
                "usage": result.usage.as_dict()
                if result.usage
                else {"promptTokens": None, "completionTokens": None, "totalTokens": None},
                **outcome.served_by.describe(),
                "attempts": [a.as_dict() for a in outcome.attempts],
                "latencyMs": outcome.latency_ms,
            }
        )


# ---- OpenAI-compatible gateway ------------------------------------------------------------------

OPENAI_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The same errors, in OpenAI's shape, so the official SDKs raise their usual exceptions."""
    response = byok_exception_handler(exc, context)
    if response is None or not isinstance(response.data, dict):
        return response
    data = response.data
    error: dict[str, Any] = {
        "message": data.get("error", ""),
        "type": OPENAI_ERROR_TYPES.get(response.status_code, "api_error"),
        "param": None,
        "code": data.get("code"),
    }
    if "attempts" in data:
        error["attempts"] = data["attempts"]
    response.data = {"error": error}
    return response


FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "STOP": "stop",
    "COMPLETE": "stop",
    "stop": "stop",
    "max_tokens": "length",
    "MAX_TOKENS": "length",
    "length": "length",
    "tool_use": "tool_calls",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
    "SAFETY": "content_filter",
    "guardrail_intervened": "content_filter",
    "RECITATION": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "BLOCKLIST": "content_filter",
    "SPII": "content_filter",
    "refusal": "content_filter",
}


def openai_finish_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    return FINISH_REASONS.get(reason, "stop")


class OpenAIView(APIView):
    def get_exception_handler(self) -> Any:
        return openai_exception_handler


def split_model(value: Any) -> tuple[str, str]:
    if not isinstance(value, str) or "/" not in value:
        raise InvalidInput(
            "model must be 'provider/model', e.g. 'openai/gpt-4o-mini' or 'anthropic/claude-sonnet-4-5'.",
            code="invalid_model",
        )
    provider, model = value.split("/", 1)
    if not model:
        raise InvalidInput("model must be 'provider/model' with a model after the '/'.", code="invalid_model")
    return provider, model


class ChatCompletionsView(ByokMixin, OpenAIView):
    """``POST /v1/chat/completions``: OpenAI-compatible; ``model`` is ``provider/model``."""

    def byok_target(self, request: Request) -> tuple[str, str | None]:
        data = _body(request)
        provider, model = split_model(data.get("model"))
        max_tokens, temperature = parse_limits(data, max_keys=("max_completion_tokens", "max_tokens"))
        self.chat_request = ChatRequest(
            model=model, messages=parse_messages(data.get("messages")), max_tokens=max_tokens, temperature=temperature
        )
        self.public_model = f"{provider}/{model}"
        self.stream = bool(data.get("stream"))
        options = data.get("stream_options")
        self.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        group = data.get("group")
        return provider, group if isinstance(group, str) and group else None

    @extend_schema(
        summary="OpenAI-compatible chat completions (model = provider/model)",
        request=OpenAIChatInput,
        responses={200: OpenApiTypes.OBJECT, **errors(400, 401, 404, 429, 502, 504)},
    )
    def post(self, request: Request) -> Any:
        byok: ByokContext = request.byok  # type: ignore[attr-defined]
        user = cast(User, request.user)
        completion_id = f"chatcmpl-{secrets.token_hex(12)}"
        created = int(time.time())
        if self.stream:
            stream = services.chat_stream(user=user, candidates=byok.candidates, request=self.chat_request)
            mark_served(request, stream.served_by)
            response = StreamingHttpResponse(
                self._sse(stream.chunks, completion_id, created), content_type="text/event-stream"
            )
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            return response
        outcome = services.chat_complete(user=user, candidates=byok.candidates, request=self.chat_request)
        mark_served(request, outcome.served_by)
        result = outcome.result
        usage = result.usage
        return Response(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": self.public_model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": result.text},
                        "finish_reason": openai_finish_reason(result.finish_reason) or "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": usage.prompt_tokens or 0 if usage else 0,
                    "completion_tokens": usage.completion_tokens or 0 if usage else 0,
                    "total_tokens": usage.total_tokens or 0 if usage else 0,
                },
                "byok": {
                    **outcome.served_by.describe(),
                    "attempts": [a.as_dict() for a in outcome.attempts],
                    "latencyMs": outcome.latency_ms,
                },
            }
        )

    def _sse(self, chunks: Iterator[ChatChunk], completion_id: str, created: int) -> Iterator[bytes]:
        def event(payload: dict[str, Any]) -> bytes:
            return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()

        base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": self.public_model}
        yield event(
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
        )
        usage = None
        finish: str | None = None
        try:
            for chunk in chunks:
                usage = chunk.usage or usage
                finish = chunk.finish_reason or finish
                if chunk.text:
                    yield event(
                        {**base, "choices": [{"index": 0, "delta": {"content": chunk.text}, "finish_reason": None}]}
                    )
        except Exception as exc:
            # Headers are gone: report the failure as an error event, then end the stream.
            if isinstance(exc, UpstreamError):
                message, code = exc.message, exc.code
            else:
                logger.exception("stream failed")
                message, code = "The stream failed on the server.", "server_error"
            yield event({"error": {"message": message, "type": "api_error", "code": code, "param": None}})
            yield b"data: [DONE]\n\n"
            return
        yield event(
            {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": openai_finish_reason(finish) or "stop"}]}
        )
        if self.include_usage:
            yield event(
                {
                    **base,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": (usage.prompt_tokens or 0) if usage else 0,
                        "completion_tokens": (usage.completion_tokens or 0) if usage else 0,
                        "total_tokens": (usage.total_tokens or 0) if usage else 0,
                    },
                }
            )
        yield b"data: [DONE]\n\n"


class ModelsView(OpenAIView):
    """``GET /v1/models``: ``provider/model`` ids the caller can use (the providers' usual models)."""

    @extend_schema(summary="Models the caller can use, as provider/model ids", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        user = cast(User, request.user)
        data = [
            {"id": f"{provider}/{model}", "object": "model", "created": 0, "owned_by": provider}
            for provider in resolution.usable_providers(user=user)
            for model in get_adapter_class(provider).spec.example_models
        ]
        return Response({"object": "list", "data": data})


# ---- BYOK endpoints about resolution and usage ------------------------------------------------


class ResolveView(ByokAPIView):
    byok_feature = False  # with ENABLE_BYOK=false it answers with the system key, as inference does

    @extend_schema(
        summary="Which key would serve me (no provider is called)",
        parameters=[OpenApiParameter("provider", str, required=True), OpenApiParameter("group", str)],
        responses=ok(
            "Resolved",
            {
                "provider": S.CharField(),
                "keySource": S.CharField(),
                "keyId": S.CharField(),
                "groupId": S.CharField(allow_null=True),
                "isBYOK": S.BooleanField(),
                "fallbacks": objs(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        provider = request.query_params.get("provider", "")
        if not provider:
            raise InvalidInput("Give ?provider=<id>.", code="missing_provider")
        group = request.query_params.get("group") or request.headers.get("X-BYOK-Group") or None
        candidates = resolution.resolve_or_raise(user=self.caller, provider=provider, group_slug=group)
        response = Response(
            {
                "success": True,
                "provider": provider,
                **candidates[0].describe(),
                "fallbacks": [c.describe() for c in candidates[1:]],
            }
        )
        response["X-BYOK-Key-Source"] = candidates[0].source
        return response


class GroupUsageView(ByokAPIView):
    @extend_schema(
        summary="Per-member usage of a group's keys (owners/admins)",
        responses=ok(
            "GroupUsage",
            {
                "groupId": S.CharField(),
                "totalCalls": S.IntegerField(),
                "totalTokens": S.IntegerField(),
                "members": objs(),
            },
        ),
    )
    def get(self, request: Request, group_id: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.VIEW_USAGE)
        return Response({"success": True, **group_usage(organization=org)})


class StatsView(ByokAPIView):
    @extend_schema(
        summary="Counts of your keys and their usage",
        responses=ok("Stats", {"stats": obj("userKeys, groupKeys, providers, totalUsage, tokens, byProvider")}),
    )
    def get(self, request: Request) -> Response:
        return Response({"success": True, "stats": stats.key_stats(user=self.caller)})
