"""The BYOK REST API under ``/api/byok/``. Views parse input, call one service or selector, and shape
the documented JSON. Every response carries ``success``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from byok_keys import selectors, services
from byok_keys.models import ProviderKey
from byok_keys.services import AllowedUsers, KeyOwner
from common.api import ByokAPIView, parse_body
from common.schema import MESSAGE, S, obj, objs, ok
from groups import selectors as group_selectors
from groups.models import User
from groups.roles import Cap
from providers.registry import all_adapter_classes, provider_public_dict
from providers.validation import ValidationResult

KEY_SAVED = ok(
    "KeySaved",
    {
        "keyId": S.CharField(),
        "provider": S.CharField(),
        "status": S.CharField(),
        "last4": S.CharField(),
        "reason": S.CharField(required=False),
        "warning": S.CharField(required=False),
    },
    extra=(409, 413),
)
KEY_SAVED[201] = KEY_SAVED[200]  # 201 when created, 200 when an existing key was replaced
KEY_TESTED = ok(
    "KeyTested",
    {
        "provider": S.CharField(),
        "status": S.CharField(),
        "reason": S.CharField(),
        "retryAfter": S.IntegerField(required=False),
        "keyId": S.CharField(required=False),
        "keyStatus": S.CharField(required=False),
        "lastValidatedAt": S.DateTimeField(required=False),
    },
)


class KeyInput(serializers.Serializer):
    apiKey = serializers.JSONField(required=False, help_text="The key, or an object of config fields.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class GroupKeyInput(KeyInput):
    allowedUsers = serializers.JSONField(required=False, help_text='"all" (default) or a list of member usernames.')

    def validate_allowedUsers(self, value: object) -> AllowedUsers:
        """Parsed once here: services take an ``AllowedUsers``, never the raw JSON."""
        return AllowedUsers.parse(value)


def _key_saved(result: services.KeySetResult) -> Response:
    body: dict[str, Any] = {
        "success": True,
        "keyId": result.key.key_id,
        "provider": result.key.provider,
        "status": result.key.status,
        "last4": result.key.last4,
    }
    if result.key.status_reason:
        body["reason"] = result.key.status_reason
    if result.warning:
        body["warning"] = result.warning
    return Response(body, status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)


class ProvidersView(ByokAPIView):
    """All providers, public (no authentication)."""

    byok_feature = False
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(summary="List supported providers", responses=ok("Providers", {"providers": objs()}))
    def get(self, request: Request) -> Response:
        return Response({"success": True, "providers": [provider_public_dict(cls) for cls in all_adapter_classes()]})


class KeysView(ByokAPIView):
    @extend_schema(
        summary="Your keys, your groups' keys, and which providers you can use",
        responses=ok(
            "Keys",
            {
                "userId": S.CharField(),
                "groupId": S.CharField(allow_null=True),
                "groups": S.ListField(child=S.CharField()),
                "providers": objs("provider, name, hasUserKey, hasGroupKey"),
                "keys": objs(),
                "groupKeys": objs(),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        return Response({"success": True, **selectors.keys_overview(user=self.caller)})


class UserKeyView(ByokAPIView):
    @extend_schema(
        summary="Store or replace your key for a provider",
        request=KeyInput,
        responses=KEY_SAVED,
    )
    def post(self, request: Request, provider: str) -> Response:
        data = parse_body(KeyInput, request)
        result = services.provider_key_set(
            actor=self.caller,
            owner=KeyOwner(user=self.caller),
            provider=provider,
            raw=data.get("apiKey"),
            name=data.get("name", ""),
            description=data.get("description", ""),
        )
        return _key_saved(result)

    @extend_schema(summary="Remove your key for a provider", responses=MESSAGE)
    def delete(self, request: Request, provider: str) -> Response:
        key = selectors.user_key_get(user=self.caller, provider=provider)
        services.provider_key_delete(actor=self.caller, key=key)
        return Response({"success": True, "message": f"Removed {provider} key"})


class GroupKeyView(ByokAPIView):
    @extend_schema(
        summary="Store or replace a group's key (owners/admins)",
        request=GroupKeyInput,
        responses=KEY_SAVED,
    )
    def post(self, request: Request, group_id: str, provider: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_KEYS)
        data = parse_body(GroupKeyInput, request)
        result = services.provider_key_set(
            actor=self.caller,
            owner=KeyOwner(organization=org),
            provider=provider,
            raw=data.get("apiKey"),
            name=data.get("name", ""),
            description=data.get("description", ""),
            allowed=data.get("allowedUsers"),  # absent: "all" for a new key, unchanged on replace
        )
        return _key_saved(result)

    @extend_schema(summary="Remove a group's key (owners/admins)", responses=MESSAGE)
    def delete(self, request: Request, group_id: str, provider: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_KEYS)
        key = selectors.group_key_get(organization=org, provider=provider)
        services.provider_key_delete(actor=self.caller, key=key)
        return Response({"success": True, "message": f"Removed {provider} key from group {org.slug}"})


class KeyTestInput(serializers.Serializer):
    apiKey = serializers.JSONField(
        required=False, help_text="Test this key without storing it; omit to test the stored key."
    )


def _test_response(provider: str, result: ValidationResult) -> Response:
    body: dict[str, Any] = {
        "success": True,
        "provider": provider,
        "status": result.status.value,
        "reason": result.reason,
    }
    if result.retry_after is not None:
        body["retryAfter"] = result.retry_after
    return Response(body)


def _run_key_test(*, actor: User, provider: str, data: dict[str, Any], stored: Callable[[], ProviderKey]) -> Response:
    if data.get("apiKey") not in (None, ""):
        # The web page's "Test" before saving: nothing is stored.
        credential = services.provider_credential_parse(provider=provider, raw=data["apiKey"])
        return _test_response(provider, services.credential_check(provider=provider, credential=credential))
    key = stored()
    result = services.provider_key_check(key=key, actor=actor)
    key.refresh_from_db()
    response = _test_response(provider, result)
    response.data.update(
        {
            "keyId": key.key_id,
            "keyStatus": key.status,
            "lastValidatedAt": key.last_validated_at.isoformat() if key.last_validated_at else None,
        }
    )
    return response


class UserKeyTestView(ByokAPIView):
    @extend_schema(
        summary="Test your stored key (or a key in the body, without storing it)",
        request=KeyTestInput,
        responses=KEY_TESTED,
    )
    def post(self, request: Request, provider: str) -> Response:
        data = parse_body(KeyTestInput, request)
        return _run_key_test(
            actor=self.caller,
            provider=provider,
            data=data,
            stored=lambda: selectors.user_key_get(user=self.caller, provider=provider),
        )


class GroupKeyTestView(ByokAPIView):
    @extend_schema(summary="Test a group's stored key (owners/admins)", request=KeyTestInput, responses=KEY_TESTED)
    def post(self, request: Request, group_id: str, provider: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_KEYS)
        data = parse_body(KeyTestInput, request)
        return _run_key_test(
            actor=self.caller,
            provider=provider,
            data=data,
            stored=lambda: selectors.group_key_get(organization=org, provider=provider),
        )


class GroupDetailView(ByokAPIView):
    @extend_schema(
        summary="A group's members and key metadata (members only)",
        responses=ok("GroupDetail", {"group": obj("id, name, createdAt, members, keys")}),
    )
    def get(self, request: Request, group_id: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.VIEW)
        return Response({"success": True, "group": selectors.group_detail(organization=org)})


