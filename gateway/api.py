"""Inference endpoints: ``POST /api/inference`` (the service's own shape), the OpenAI-compatible
``POST /v1/chat/completions`` and ``GET /v1/models``, and under ``/api/byok/``: ``resolve``,
``stats`` and a group's usage.

Each view reads top to bottom: parse the body with a serializer, make one service call (which
limits, resolves, fails over and records), render with a serializer.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any, cast

from adrf.views import APIView as AsyncAPIView
from django.core.handlers.asgi import ASGIRequest
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from byok_keys import selectors as key_selectors
from common.api import ByokAPIView, parse_body
from common.api import exception_handler as byok_exception_handler
from common.errors import InvalidInput
from common.schema import responses
from common.serializers import render
from gateway import compromise, resolution, services, stats
from gateway.serializers import (
    AttemptSerializer,
    ChatCompletionInput,
    ChatCompletionSerializer,
    Completion,
    CompletionCall,
    CompromisedInput,
    CompromisedSerializer,
    GroupUsageSerializer,
    InferenceInput,
    InferenceSerializer,
    OpenAIErrorSerializer,
    OpenAIModelListSerializer,
    ResolvedSerializer,
    StatsSerializer,
)
from gateway.usage import group_usage
from groups import selectors as group_selectors
from groups.models import User
from groups.roles import Cap
from providers.chat import ChatChunk, UpstreamError
from providers.registry import get_adapter_class

logger = logging.getLogger("byok.gateway")


def _with_attempts(response: Response | None, exc: Exception) -> Response | None:
    """A failed call lists every attempt in its error body."""
    attempts = getattr(exc, "attempts", None)
    if response is not None and attempts and isinstance(response.data, dict):
        response.data["attempts"] = AttemptSerializer(attempts, many=True).data
    return response


def inference_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    return _with_attempts(byok_exception_handler(exc, context), exc)


def _caller(request: Request) -> User:
    """The authenticated user (the default permission class guarantees one)."""
    return cast(User, request.user)


def _parse(serializer_cls: Any, request: Request) -> Any:
    if not isinstance(request.data, dict):
        raise InvalidInput("The request body must be a JSON object.", code="invalid_request")
    token = request.auth
    origin = services.CallOrigin(
        token_prefix=getattr(token, "prefix", ""),
        ip=request.META.get("REMOTE_ADDR") or None,
        endpoint="inference" if serializer_cls is InferenceInput else "chat.completions",
    )
    context = {"group": request.headers.get("X-BYOK-Group"), "origin": origin}
    serializer = serializer_cls(data=request.data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class GatewayView(AsyncAPIView):
    """An async view (adrf): the provider call is awaited, so under ASGI an open call holds neither a
    thread nor a database connection. Authentication runs in the request's thread, which then hands
    its connection back."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        try:
            super().initial(request, *args, **kwargs)
        finally:
            services.release_connection()


class InferenceView(GatewayView):
    def get_exception_handler(self) -> Any:
        return inference_exception_handler

    @extend_schema(
        summary="Call an LLM with your key (own, group, then system)",
        description="Sends `prompt` (or `messages`) to `provider`'s `model` with the key that resolves for you "
        "(your own, then a group's, then the operator's system key), failing over to the next key on "
        "401/402/403/429. Every attempt is listed and recorded; the answer says which key served it.",
        request=InferenceInput,
        responses=responses(InferenceSerializer, extra=(429, 502, 504)),
    )
    async def post(self, request: Request) -> Response:
        call = _parse(InferenceInput, request)
        outcome = await services.chat(user=_caller(request), call=call)
        return Response(render(InferenceSerializer, outcome), headers=services.served_headers(outcome.served_by))


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
    attempts = getattr(exc, "attempts", None)
    if attempts:
        error["attempts"] = AttemptSerializer(attempts, many=True).data
    response.data = {"error": error}
    return response


def openai_errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(OpenAIErrorSerializer) for status in statuses}


class EventStreamRenderer(JSONRenderer):
    """Lets a client that asks for ``Accept: text/event-stream`` in: a streamed answer is written by the
    view itself; anything rendered through here (an error before the stream starts) is JSON."""

    media_type = "text/event-stream"


class OpenAIView(GatewayView):
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    def get_exception_handler(self) -> Any:
        return openai_exception_handler

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response) and response.accepted_media_type == "text/event-stream":
            # Bodies rendered here are JSON (errors, or a non-streamed answer): say so.
            response["Content-Type"] = "application/json"
        return response


class ChatCompletionsView(OpenAIView):
    @extend_schema(
        summary="OpenAI-compatible chat completions (model = provider/model)",
        description="OpenAI's Chat Completions request and response, so the official SDKs work unchanged. "
        "`model` is `provider/model` (e.g. `anthropic/claude-sonnet-4-5`); the key resolves as for "
        "`/api/inference`. `stream: true` answers with server-sent events in OpenAI's chunk format. The "
        "`byok` field says which key served.",
        request=ChatCompletionInput,
        responses={200: ChatCompletionSerializer, **openai_errors(400, 401, 404, 429, 502, 504)},
    )
    async def post(self, request: Request) -> Any:
        parsed: CompletionCall = _parse(ChatCompletionInput, request)
        completion_id = f"chatcmpl-{secrets.token_hex(12)}"
        created = int(time.time())
        if parsed.stream:
            stream = await services.chat_streamed(user=_caller(request), call=parsed.call)
            events: Any = _sse(stream.chunks, parsed, completion_id, created)
            if not isinstance(request._request, ASGIRequest):
                # Under WSGI (a WSGI server, the test client) the event loop that opened the provider's
                # stream ends with this view: read it to the end here. Streaming needs ASGI.
                events = iter([event async for event in events])
            response = StreamingHttpResponse(events, content_type="text/event-stream")
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"
            for name, value in services.served_headers(stream.served_by).items():
                response[name] = value
            return response
        outcome = await services.chat(user=_caller(request), call=parsed.call)
        completion = Completion(id=completion_id, created=created, model=parsed.public_model, outcome=outcome)
        return Response(
            render(ChatCompletionSerializer, completion), headers=services.served_headers(outcome.served_by)
        )


async def _sse(
    chunks: AsyncIterator[ChatChunk], parsed: CompletionCall, completion_id: str, created: int
) -> AsyncIterator[bytes]:
    """OpenAI's ``chat.completion.chunk`` events for a stream of chunks."""

    def event(payload: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n".encode()

    base = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": parsed.public_model}
    yield event(
        {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}
    )
    usage = None
    finish: str | None = None
    try:
        async for chunk in chunks:
            usage = chunk.usage or usage
            finish = chunk.openai_finish_reason or finish
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
    yield event({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish or "stop"}]})
    if parsed.include_usage:
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
    @extend_schema(
        summary="Models the caller can use, as provider/model ids",
        description="OpenAI's model list: for every provider you can call (own key, allowed group key, or "
        "system key), its usual models as `provider/model` ids.",
        responses={200: OpenAIModelListSerializer, **openai_errors(401)},
    )
    def get(self, request: Request) -> Response:
        models = [
            {"id": f"{provider}/{model}", "owned_by": provider}
            for provider in resolution.usable_providers(user=_caller(request))
            for model in get_adapter_class(provider).spec.example_models
        ]
        return Response(render(OpenAIModelListSerializer, {"data": models}))


# ---- BYOK endpoints about resolution and usage ------------------------------------------------


class ResolveView(ByokAPIView):
    byok_feature = False  # with ENABLE_BYOK=false it answers with the system key, as inference does

    @extend_schema(
        summary="Which key would serve me (no provider is called)",
        description="The key that would serve a call to `provider` now (and the fallbacks in failover "
        "order), without calling anyone. `group` (or `X-BYOK-Group`) limits group keys to that group.",
        parameters=[OpenApiParameter("provider", str, required=True), OpenApiParameter("group", str)],
        responses=responses(ResolvedSerializer),
    )
    def get(self, request: Request) -> Response:
        provider = request.query_params.get("provider", "")
        if not provider:
            raise InvalidInput("Give ?provider=<id>.", code="missing_provider")
        group = request.query_params.get("group") or request.headers.get("X-BYOK-Group") or None
        candidates = resolution.resolve_or_raise(user=self.caller, provider=provider, group_slug=group)
        body = render(ResolvedSerializer, {"provider": provider, "first": candidates[0], "fallbacks": candidates[1:]})
        return Response(body, headers={"X-BYOK-Key-Source": str(candidates[0].source)})


class GroupUsageView(ByokAPIView):
    @extend_schema(
        summary="Per-member usage of a group's keys (owners/admins)",
        description="Calls and tokens served by the group's keys, per member and per provider.",
        responses=responses(GroupUsageSerializer),
    )
    def get(self, request: Request, group_id: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.VIEW_USAGE)
        return Response(render(GroupUsageSerializer, group_usage(organization=org)))


class StatsView(ByokAPIView):
    @extend_schema(
        summary="Counts of your keys and their usage",
        description="How many personal and group keys you have, for which providers, and the calls and tokens "
        "served by your keys and by group keys on your behalf (system keys are not counted).",
        responses=responses(StatsSerializer),
    )
    def get(self, request: Request) -> Response:
        return Response(render(StatsSerializer, stats.key_stats(user=self.caller)))


class _CompromisedView(ByokAPIView):
    def _report(self, request: Request, key: Any) -> Response:
        data = parse_body(CompromisedInput, request)
        report = compromise.key_compromised(
            actor=self.caller, key=key, since=data.get("since"), replacement=data.get("replacement")
        )
        return Response(render(CompromisedSerializer, report))


class UserKeyCompromisedView(_CompromisedView):
    @extend_schema(
        summary="Report your key as compromised: revoke it now and see who used it",
        description="Revokes the key at once (it is never used again), optionally stores `replacement` in its "
        "place (checked live first; a refusal is reported and the revocation stands), and reports the blast "
        "radius from the usage records since `since`: calls, tokens, users, API tokens, addresses, groups.",
        request=CompromisedInput,
        responses=responses(CompromisedSerializer),
    )
    def post(self, request: Request, provider: str) -> Response:
        return self._report(request, key_selectors.user_key_get(user=self.caller, provider=provider))


class GroupKeyCompromisedView(_CompromisedView):
    @extend_schema(
        summary="Report a group's key as compromised (owners/admins)",
        description="The group equivalent: revoke now, optional replacement, blast radius; the group's owners "
        "and admins are emailed.",
        request=CompromisedInput,
        responses=responses(CompromisedSerializer),
    )
    def post(self, request: Request, group_id: str, provider: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_KEYS)
        return self._report(request, key_selectors.group_key_get(organization=org, provider=provider))
