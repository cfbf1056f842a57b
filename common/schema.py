"""OpenAPI response shapes for drf-spectacular (documentation only: views build plain dicts)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ERROR = inline_serializer(
    "Error",
    {
        "success": serializers.BooleanField(default=False),
        "error": serializers.CharField(help_text="What is wrong and how to fix it."),
        "code": serializers.CharField(help_text="A stable code, e.g. invalid_key_format."),
    },
)


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {status: OpenApiResponse(ERROR) for status in statuses}


def ok(name: str, fields: dict[str, Any], *, status: int = 200, extra: tuple[int, ...] = ()) -> dict[int, Any]:
    """A success shape (``success`` plus ``fields``) and the usual errors."""
    body = inline_serializer(name, {"success": serializers.BooleanField(default=True), **fields})
    return {status: body, **errors(400, 401, 403, 404, *extra)}


def obj(help_text: str = "") -> serializers.Field:
    return serializers.DictField(help_text=help_text)


def objs(help_text: str = "") -> serializers.Field:
    return serializers.ListField(child=serializers.DictField(), help_text=help_text)


S = serializers
MESSAGE = ok("Message", {"message": S.CharField()})
