"""The gateway's JSON. Input serializers turn a request body into a typed ``ChatCall`` (with the
stable error codes of the API); output serializers render outcomes in the service's own shape
(``/api/inference``, ``/api/byok/…``) or OpenAI's (``/v1/…``), and are the OpenAPI schema."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework import serializers

from common.errors import InvalidInput
from common.serializers import Envelope, IsoDateTime, StrictInput
from gateway.services import CallOrigin, ChatCall
from providers.chat import ChatMessage, ChatRequest
from providers.registry import REGISTRY

ROLES = ("system", "user", "assistant")

# ---- parsing -----------------------------------------------------------------------------------


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


def _group(data: dict[str, Any], header_group: str | None) -> str | None:
    group = data.get("group")
    return (group if isinstance(group, str) and group else None) or header_group or None


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


class _BodySerializer(serializers.Serializer):
    """Declares the fields (for the schema) but reads the body itself, so every refusal keeps its
    stable ``code`` and message. The view passes ``context={"group": <X-BYOK-Group header>}``."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise InvalidInput("The request body must be a JSON object.", code="invalid_request")
        return self.read(data)

    def read(self, data: dict[str, Any]) -> Any:
        raise NotImplementedError


class InferenceInput(_BodySerializer):
    provider = serializers.CharField(help_text="A provider id, e.g. openai")
    model = serializers.CharField(help_text="The provider's model id, e.g. gpt-4o-mini")
    prompt = serializers.CharField(required=False, help_text="One user message (or send messages)")
    messages = serializers.ListField(child=serializers.DictField(), required=False)
    max_tokens = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
    temperature = serializers.FloatField(required=False, min_value=0, max_value=2)
    group = serializers.CharField(required=False, help_text="The group whose key to use (or X-BYOK-Group)")

    def read(self, data: dict[str, Any]) -> ChatCall:
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
        request = ChatRequest(model=model.strip(), messages=messages, max_tokens=max_tokens, temperature=temperature)
        return ChatCall(
            provider=provider,
            group=_group(data, self.context.get("group")),
            request=request,
            origin=self.context.get("origin", CallOrigin()),
        )


@dataclass(frozen=True)
class CompletionCall:
    """A parsed ``/v1/chat/completions`` body."""

    call: ChatCall
    public_model: str
    stream: bool
    include_usage: bool


class ChatCompletionInput(_BodySerializer):
    model = serializers.CharField(help_text="provider/model, e.g. openai/gpt-4o-mini")
    messages = serializers.ListField(child=serializers.DictField())
    max_tokens = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
    max_completion_tokens = serializers.IntegerField(required=False, min_value=1, max_value=1_000_000)
    temperature = serializers.FloatField(required=False, min_value=0, max_value=2)
    stream = serializers.BooleanField(required=False)
    stream_options = serializers.DictField(required=False, help_text='{"include_usage": true} for a usage chunk')
    group = serializers.CharField(required=False, help_text="BYOK extension: the group whose key to use")

    def read(self, data: dict[str, Any]) -> CompletionCall:
        provider, model = split_model(data.get("model"))
        max_tokens, temperature = parse_limits(data, max_keys=("max_completion_tokens", "max_tokens"))
        request = ChatRequest(
            model=model, messages=parse_messages(data.get("messages")), max_tokens=max_tokens, temperature=temperature
        )
        options = data.get("stream_options")
        return CompletionCall(
            call=ChatCall(
                provider=provider,
                group=_group(data, self.context.get("group")),
                request=request,
                origin=self.context.get("origin", CallOrigin()),
            ),
            public_model=f"{provider}/{model}",
            stream=bool(data.get("stream")),
            include_usage=isinstance(options, dict) and bool(options.get("include_usage")),
        )


# ---- output: the service's own shapes -----------------------------------------------------------


class UsageSerializer(serializers.Serializer):
    promptTokens = serializers.IntegerField(source="prompt_tokens", allow_null=True)
    completionTokens = serializers.IntegerField(source="completion_tokens", allow_null=True)
    totalTokens = serializers.IntegerField(source="total_tokens", allow_null=True)


class KeyChoiceSerializer(serializers.Serializer):
    """Which key served (or would serve): takes a ``resolution.KeyCandidate``."""

    keySource = serializers.CharField(source="source", help_text="user, group or system")
    keyId = serializers.CharField(source="key_id")
    groupId = serializers.CharField(source="group.slug", allow_null=True, default=None)
    isBYOK = serializers.BooleanField(source="is_byok")


class AttemptSerializer(serializers.Serializer):
    """One try of one key: takes a ``services.Attempt``."""

    keySource = serializers.CharField(source="candidate.source", help_text="user, group or system")
    keyId = serializers.CharField(source="candidate.key_id")
    groupId = serializers.CharField(source="candidate.group.slug", allow_null=True, default=None)
    isBYOK = serializers.BooleanField(source="candidate.is_byok")
    status = serializers.CharField(help_text="ok, or the error code")
    latencyMs = serializers.IntegerField(source="latency_ms")
    upstreamStatus = serializers.IntegerField(source="upstream_status", required=False)
    error = serializers.CharField(source="message", required=False)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if instance.upstream_status is None:
            data.pop("upstreamStatus")
        if not instance.message:
            data.pop("error")
        return data


class InferenceSerializer(Envelope):
    """Takes a ``services.ChatOutcome``."""

    provider = serializers.CharField(source="served_by.provider")
    model = serializers.CharField(source="result.model")
    text = serializers.CharField(source="result.text")
    finishReason = serializers.CharField(
        source="result.finish_reason", allow_null=True, help_text="as the provider said it"
    )
    usage = UsageSerializer(source="result.usage", help_text="null counts where the provider gives none")
    keySource = serializers.CharField(source="served_by.source")
    keyId = serializers.CharField(source="served_by.key_id")
    groupId = serializers.CharField(source="served_by.group.slug", allow_null=True, default=None)
    isBYOK = serializers.BooleanField(source="served_by.is_byok")
    attempts = AttemptSerializer(many=True)
    latencyMs = serializers.IntegerField(source="latency_ms")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if data["usage"] is None:
            data["usage"] = {"promptTokens": None, "completionTokens": None, "totalTokens": None}
        return data


class ResolvedSerializer(Envelope):
    """Takes the candidates list (best first)."""

    provider = serializers.CharField()
    keySource = serializers.CharField(source="first.source")
    keyId = serializers.CharField(source="first.key_id")
    groupId = serializers.CharField(source="first.group.slug", allow_null=True, default=None)
    isBYOK = serializers.BooleanField(source="first.is_byok")
    fallbacks = KeyChoiceSerializer(many=True)


class TokenTotalsSerializer(serializers.Serializer):
    calls = serializers.IntegerField()
    promptTokens = serializers.IntegerField(source="prompt_tokens")
    completionTokens = serializers.IntegerField(source="completion_tokens")
    totalTokens = serializers.IntegerField(source="total_tokens")


class TokenCountsSerializer(serializers.Serializer):
    promptTokens = serializers.IntegerField(source="prompt_tokens")
    completionTokens = serializers.IntegerField(source="completion_tokens")
    totalTokens = serializers.IntegerField(source="total_tokens")


class StatsBodySerializer(serializers.Serializer):
    userKeys = serializers.IntegerField(source="user_keys")
    groupKeys = serializers.IntegerField(source="group_keys")
    providers = serializers.ListField(child=serializers.CharField(), help_text="providers you have a key for")
    totalUsage = serializers.IntegerField(source="usage.calls", help_text="calls served by your and group keys")
    tokens = TokenCountsSerializer(source="usage")
    byProvider = serializers.DictField(source="by_provider", child=TokenTotalsSerializer())
    thisMonth = TokenTotalsSerializer(source="this_month", help_text="since the 1st of this month, UTC")


class StatsSerializer(Envelope):
    stats = StatsBodySerializer(source="*")


class MemberUsageSerializer(serializers.Serializer):
    userId = serializers.CharField(source="username")
    calls = serializers.IntegerField()
    totalTokens = serializers.IntegerField(source="total_tokens")
    byProvider = serializers.DictField(source="by_provider", child=TokenTotalsSerializer())


class GroupUsageSerializer(Envelope):
    groupId = serializers.CharField(source="organization.slug")
    totalCalls = serializers.IntegerField(source="total_calls")
    totalTokens = serializers.IntegerField(source="total_tokens")
    members = MemberUsageSerializer(many=True)


# ---- output: OpenAI's shapes --------------------------------------------------------------------


class OpenAIUsageSerializer(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class OpenAIMessageSerializer(serializers.Serializer):
    role = serializers.CharField(default="assistant")
    content = serializers.CharField()


class OpenAIChoiceSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    message = OpenAIMessageSerializer()
    finish_reason = serializers.CharField()


class ByokExtensionSerializer(serializers.Serializer):
    """Which key served the call, every attempt, and the time taken (``byok`` in ``/v1`` answers).
    Takes a ``services.ChatOutcome``."""

    keySource = serializers.CharField(source="served_by.source", help_text="user, group or system")
    keyId = serializers.CharField(source="served_by.key_id")
    groupId = serializers.CharField(source="served_by.group.slug", allow_null=True, default=None)
    isBYOK = serializers.BooleanField(source="served_by.is_byok")
    attempts = AttemptSerializer(many=True)
    latencyMs = serializers.IntegerField(source="latency_ms")


@dataclass(frozen=True)
class Completion:
    """What ``/v1/chat/completions`` answers (not streamed)."""

    id: str
    created: int
    model: str
    outcome: Any  # services.ChatOutcome


class ChatCompletionSerializer(serializers.Serializer):
    """OpenAI's ``chat.completion`` object, plus the ``byok`` extension. Takes a ``Completion``."""

    id = serializers.CharField()
    object = serializers.SerializerMethodField()
    created = serializers.IntegerField()
    model = serializers.CharField()
    choices = OpenAIChoiceSerializer(many=True, source="outcome")
    usage = OpenAIUsageSerializer(source="outcome")
    byok = ByokExtensionSerializer(source="outcome")

    def get_object(self, completion: Completion) -> str:
        return "chat.completion"

    def to_representation(self, instance: Any) -> dict[str, Any]:
        result = instance.outcome.result
        usage = result.usage
        return {
            "id": instance.id,
            "object": "chat.completion",
            "created": instance.created,
            "model": instance.model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": result.text},
                    "finish_reason": result.openai_finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": (usage.prompt_tokens or 0) if usage else 0,
                "completion_tokens": (usage.completion_tokens or 0) if usage else 0,
                "total_tokens": (usage.total_tokens or 0) if usage else 0,
            },
            "byok": ByokExtensionSerializer(instance.outcome).data,
        }


class OpenAIModelSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="provider/model")
    object = serializers.CharField(default="model")
    created = serializers.IntegerField(default=0)
    owned_by = serializers.CharField(help_text="the provider id")


class OpenAIModelListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    # DRF's metaclass takes declared fields out of the class, so ``data`` does not hide ``.data``.
    data = OpenAIModelSerializer(many=True)  # type: ignore[assignment]


class OpenAIErrorBodySerializer(serializers.Serializer):
    message = serializers.CharField()
    type = serializers.CharField()
    param = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_null=True)


class OpenAIErrorSerializer(serializers.Serializer):
    error = OpenAIErrorBodySerializer()


# ---- a compromised key ----------------------------------------------------------------------------


class CompromisedInput(StrictInput):
    replacement = serializers.JSONField(
        required=False, help_text="A new key to store in its place (checked first), as apiKey would be"
    )
    since = serializers.DateTimeField(required=False, help_text="Report use since (default: when it was stored)")


class BlastRadiusSerializer(serializers.Serializer):
    since = IsoDateTime()
    calls = serializers.IntegerField(help_text="calls it served")
    failedCalls = serializers.IntegerField(source="failed_calls")
    totalTokens = serializers.IntegerField(source="total_tokens")
    users = serializers.ListField(child=serializers.CharField())
    tokens = serializers.ListField(child=serializers.CharField(), help_text="API token prefixes; session = the page")
    ips = serializers.ListField(child=serializers.CharField())
    groups = serializers.ListField(child=serializers.CharField(), help_text="groups it served")


class CompromisedSerializer(Envelope):
    """Takes a ``compromise.CompromiseReport``."""

    revokedKeyId = serializers.CharField(source="revoked_key_id")
    provider = serializers.CharField(source="key.provider")
    blastRadius = BlastRadiusSerializer(source="blast_radius")
    replacement = serializers.SerializerMethodField(help_text="the stored replacement's keyId, status and last4")
    replacementError = serializers.CharField(source="replacement_error", allow_null=True)
    notified = serializers.ListField(child=serializers.CharField(), help_text="who was emailed")

    def get_replacement(self, report: Any) -> dict[str, Any] | None:
        if report.replacement is None:
            return None
        key = report.replacement.key
        return {"keyId": key.key_id, "status": key.status, "last4": key.last4}
