"""The BYOK REST API under ``/api/byok/``. Views parse input, call one service or selector, and shape
the documented JSON. Every response carries ``success``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from byok_keys import selectors, services
from byok_keys.models import ProviderKey
from byok_keys.services import KeyOwner
from common.errors import ServiceError
from common.schema import S, errors, obj, objs, ok
from groups import selectors as group_selectors
from groups import services as group_services
from groups.models import Membership, User
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
MESSAGE = ok("Message", {"message": S.CharField()})


class ByokAPIView(APIView):
    """Base for every BYOK endpoint: honours ``ENABLE_BYOK=false``."""

    byok_feature = True

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if self.byok_feature and not settings.ENABLE_BYOK:
            raise ServiceError(
                "Bring-your-own-key is turned off on this server (ENABLE_BYOK=false); ask the operator.",
                code="byok_disabled",
                status=403,
            )
        super().initial(request, *args, **kwargs)

    @property
    def caller(self) -> User:
        """The authenticated user (the default permission class guarantees one)."""
        return cast(User, self.request.user)


class KeyInput(serializers.Serializer):
    apiKey = serializers.JSONField(required=False, help_text="The key, or an object of config fields.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class GroupKeyInput(KeyInput):
    allowedUsers = serializers.JSONField(required=False, help_text='"all" (default) or a list of member usernames.')


class MemberInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)


class GroupCreateInput(serializers.Serializer):
    id = serializers.CharField(max_length=63)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)


def _parse(serializer_cls: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    if request.data is not None and not isinstance(request.data, dict):
        raise ServiceError("The request body must be a JSON object.", code="invalid_request")
    serializer = serializer_cls(data=request.data or {})
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


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
        data = _parse(KeyInput, request)
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
        data = _parse(GroupKeyInput, request)
        result = services.provider_key_set(
            actor=self.caller,
            owner=KeyOwner(organization=org),
            provider=provider,
            raw=data.get("apiKey"),
            name=data.get("name", ""),
            description=data.get("description", ""),
            allowed_users=data.get("allowedUsers"),  # absent: "all" for a new key, unchanged on replace
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
        data = _parse(KeyTestInput, request)
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
        data = _parse(KeyTestInput, request)
        return _run_key_test(
            actor=self.caller,
            provider=provider,
            data=data,
            stored=lambda: selectors.group_key_get(organization=org, provider=provider),
        )


class GroupMemberView(ByokAPIView):
    @extend_schema(
        summary="Add a member or change their role (owners/admins); others are invited until they accept",
        request=MemberInput,
        responses=ok(
            "MemberSet",
            {"groupId": S.CharField(), "userId": S.CharField(), "role": S.CharField(), "status": S.CharField()},
        ),
    )
    def post(self, request: Request, group_id: str, user_id: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_MEMBERS)
        data = _parse(MemberInput, request)
        membership, created = group_services.membership_set(
            actor=self.caller, org=org, username=user_id, role=data.get("role")
        )
        return Response(
            {
                "success": True,
                "groupId": org.slug,
                "userId": user_id,
                "role": membership.role,
                "status": "active" if membership.is_active else "invited",
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Remove a member (owners/admins; never the last owner), or leave / decline (yourself)",
        responses={**MESSAGE, **errors(409)},
    )
    def delete(self, request: Request, group_id: str, user_id: str) -> Response:
        if user_id == self.caller.username:
            org = group_selectors.group_of_invitee(user=self.caller, slug=group_id)
            group_services.membership_remove(actor=self.caller, org=org, username=user_id)
            return Response({"success": True, "message": f"You left group {org.slug}"})
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_MEMBERS)
        group_services.membership_remove(actor=self.caller, org=org, username=user_id)
        return Response({"success": True, "message": f"Removed {user_id} from group {org.slug}"})


class GroupJoinView(ByokAPIView):
    @extend_schema(
        summary="Accept an invitation to a group",
        request=None,
        responses=ok("Joined", {"groupId": S.CharField(), "role": S.CharField(), "status": S.CharField()}),
    )
    def post(self, request: Request, group_id: str) -> Response:
        org = group_selectors.group_of_invitee(user=self.caller, slug=group_id)
        membership = group_services.membership_accept(user=self.caller, org=org)
        return Response({"success": True, "groupId": org.slug, "role": membership.role, "status": "active"})


class GroupsView(ByokAPIView):
    @extend_schema(
        operation_id="api_byok_groups_list",
        summary="Your groups",
        responses=ok("Groups", {"groups": objs("id, name, role, status (active or invited), isDefault")}),
    )
    def get(self, request: Request) -> Response:
        memberships = group_selectors.groups_for_user(user=self.caller)
        return Response(
            {
                "success": True,
                "groups": [
                    {
                        "id": m.organization.slug,
                        "name": m.organization.name,
                        "role": m.role,
                        "status": "active" if m.is_active else "invited",
                        "isDefault": m.organization_id == self.caller.default_group_id,
                    }
                    for m in memberships
                ],
            }
        )

    @extend_schema(
        summary="Create a group (you become its owner)",
        request=GroupCreateInput,
        responses=ok("GroupCreated", {"group": obj("id, name, role")}, status=201, extra=(409,)),
    )
    def post(self, request: Request) -> Response:
        data = _parse(GroupCreateInput, request)
        org = group_services.group_create(actor=self.caller, slug=data["id"], name=data.get("name", ""))
        return Response(
            {"success": True, "group": {"id": org.slug, "name": org.name, "role": Membership.Role.OWNER}},
            status=status.HTTP_201_CREATED,
        )


class GroupDetailView(ByokAPIView):
    @extend_schema(
        summary="A group's members and key metadata (members only)",
        responses=ok("GroupDetail", {"group": obj("id, name, createdAt, members, keys")}),
    )
    def get(self, request: Request, group_id: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.VIEW)
        return Response({"success": True, "group": selectors.group_detail(organization=org)})


class StatsView(ByokAPIView):
    @extend_schema(
        summary="Counts of your keys and their usage",
        responses=ok("Stats", {"stats": obj("userKeys, groupKeys, providers, totalUsage, tokens, byProvider")}),
    )
    def get(self, request: Request) -> Response:
        return Response({"success": True, "stats": selectors.key_stats(user=self.caller)})
