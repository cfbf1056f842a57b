"""Output serializer building blocks: every response body is produced by a serializer, so the body
and the OpenAPI schema come from one declaration and cannot drift."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from rest_framework import serializers

from common.errors import InvalidInput
from common.text import DISPLAY_TEXT_PATTERN, MULTILINE_TEXT_PATTERN


class IsoDateTime(serializers.DateTimeField):
    """ISO 8601 as Python writes it (``2026-12-01T10:00:00.123456+00:00``), the API's format since v1."""

    def to_representation(self, value: datetime | None) -> str | None:  # type: ignore[override]
        return value.isoformat() if value is not None else None


class DisplayTextField(serializers.CharField):
    """A name or description: its schema states the characters the service refuses
    (``common.text.check_display_text``, which keeps its own error code); ``multiline`` allows line
    breaks and tabs."""

    def __init__(self, *, multiline: bool = False, **kwargs: Any) -> None:
        self.multiline = multiline
        super().__init__(**kwargs)


class DisplayTextSchema(OpenApiSerializerFieldExtension):
    target_class = DisplayTextField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        field = self.target
        schema: dict[str, Any] = {
            "type": "string",
            "pattern": MULTILINE_TEXT_PATTERN if field.multiline else DISPLAY_TEXT_PATTERN,
        }
        if field.min_length is not None:
            schema["minLength"] = field.min_length
        if field.max_length is not None:
            schema["maxLength"] = field.max_length
        return schema


class StrictInput(serializers.Serializer):
    """An input serializer that refuses fields it does not know: a field the service cannot honour is a
    400 naming it, never silently ignored."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise InvalidInput(
                    f"Unknown field(s): {', '.join(unknown)}. This endpoint takes: {', '.join(self.fields)}.",
                    code="unknown_field",
                    extra={"field": unknown[0]},
                )
        return super().to_internal_value(data)


class StrictInputSchema(OpenApiSerializerExtension):
    """In the schema, a ``StrictInput`` takes no other properties (``additionalProperties: false``), as
    the server refuses them (400 ``unknown_field``)."""

    target_class = StrictInput
    match_subclasses = True

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        schema["additionalProperties"] = False
        return schema


class Envelope(serializers.Serializer):
    """Every successful response carries ``success: true``."""

    success = serializers.SerializerMethodField()

    def get_success(self, obj: Any) -> bool:
        return True


class ErrorSerializer(serializers.Serializer):
    """Every error answer of ``/api/…``; the optional fields appear where they apply."""

    success = serializers.BooleanField(default=False)
    error = serializers.CharField(help_text="What is wrong and how to fix it.")
    code = serializers.CharField(help_text="A stable code, e.g. invalid_key_format.")
    field = serializers.CharField(required=False, help_text="The input field at fault, where there is one.")
    status = serializers.CharField(required=False, help_text="invalid_key: what the provider said about the key.")
    reason = serializers.CharField(required=False, help_text="invalid_key: the provider's reason.")
    retryAfter = serializers.IntegerField(required=False, help_text="Rate limits: seconds to wait (also Retry-After).")
    usableProviders = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="no_key_for_provider: providers you can use."
    )
    attempts = serializers.ListField(
        child=serializers.DictField(), required=False, help_text="Inference: every key tried, in order."
    )


class MessageSerializer(Envelope):
    message = serializers.CharField()


def render(serializer_cls: type[serializers.Serializer], instance: Any) -> Any:
    """The response body for ``instance``."""
    return serializer_cls(instance).data
