"""The vault's endpoints under ``/api/byok/``: providers, keys (personal and group) and key tests.

Each view parses input with a serializer, calls one service or selector, and renders the result with
an output serializer (which is also the OpenAPI schema).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from byok_keys import selectors, services
from byok_keys.serializers import (
    GroupDetailSerializer,
    GroupKeyInput,
    GroupKeyMetadataInput,
    GroupKeyUpdatedSerializer,
    KeyInput,
    KeyMetadataInput,
    KeySavedSerializer,
    KeysOverviewSerializer,
    KeyTestedSerializer,
    KeyTestInput,
    KeyUpdatedSerializer,
    ProvidersSerializer,
    TokenCreatedSerializer,
    TokenInput,
    TokensSerializer,
)
from byok_keys.services import KeyOwner
from common.api import ByokAPIView, parse_body
from common.schema import responses
from common.serializers import MessageSerializer, render
from groups import selectors as group_selectors
from groups.roles import Cap
from providers.registry import all_adapter_classes

KEY_SAVED = {**responses(KeySavedSerializer, extra=(409, 413)), 201: KeySavedSerializer}


def _key_saved(result: services.KeySetResult) -> Response:
    return Response(
        render(KeySavedSerializer, result), status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    )


class ProvidersView(ByokAPIView):
    byok_feature = False
    permission_classes = [AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(
        summary="List supported providers",
        description="Every provider the service knows, public (no authentication): its id, the fields a key "
        "needs (config providers), the key's format hint and pattern, whether it is active, legacy or "
        "discontinued, and where an operator puts a system key.",
        responses=responses(ProvidersSerializer, common=False),
    )
    def get(self, request: Request) -> Response:
        return Response(render(ProvidersSerializer, {"providers": all_adapter_classes()}))


class KeysView(ByokAPIView):
    @extend_schema(
        summary="Your keys, your groups' keys, and which providers you can use",
        description="Metadata only, never a secret: your personal keys, the keys of the groups you have "
        "joined (with whether you may use each), and per provider whether you have a personal or a usable "
        "group key.",
        responses=responses(KeysOverviewSerializer),
    )
    def get(self, request: Request) -> Response:
        return Response(render(KeysOverviewSerializer, selectors.keys_overview(user=self.caller)))


class UserKeyView(ByokAPIView):
    @extend_schema(
        summary="Store or replace your key for a provider",
        description="The key is format-checked, then checked live with the provider's cheapest request; a key "
        "the provider rejects is refused (400 `invalid_key`) and nothing is stored. Posting again replaces the "
        "key (201 when created, 200 when replaced; a new `keyId` either way).",
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

    @extend_schema(
        summary="Rename your key or change its description",
        description="Changes metadata only (`name`, `description`); the secret stays. A new secret is a "
        "`POST`. Unknown fields are refused (400 `unknown_field`).",
        request=KeyMetadataInput,
        responses=responses(KeyUpdatedSerializer),
    )
    def patch(self, request: Request, provider: str) -> Response:
        data = parse_body(KeyMetadataInput, request)
        key = selectors.user_key_get(user=self.caller, provider=provider)
        key = services.provider_key_update_metadata(
            actor=self.caller, key=key, name=data.get("name"), description=data.get("description")
        )
        return Response(render(KeyUpdatedSerializer, selectors.key_listing(key)))

    @extend_schema(
        summary="Remove your key for a provider",
        description="Deletes your personal key for this provider (audited); its usage history is kept.",
        responses=responses(MessageSerializer),
    )
    def delete(self, request: Request, provider: str) -> Response:
        key = selectors.user_key_get(user=self.caller, provider=provider)
        services.provider_key_delete(actor=self.caller, key=key)
        return Response(render(MessageSerializer, {"message": f"Removed {provider} key"}))


class GroupKeyView(ByokAPIView):
    @extend_schema(
        summary="Store or replace a group's key (owners/admins)",
        description='Like storing your own key, for a group. `allowedUsers` is `"all"` (default for a new '
        "key) or a list of accepted members; replacing a key without `allowedUsers` keeps its list.",
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

    @extend_schema(
        summary="Rename a group's key, change its description or who may use it (owners/admins)",
        description="Changes metadata only (`name`, `description`, `allowedUsers`); the secret stays.",
        request=GroupKeyMetadataInput,
        responses=responses(GroupKeyUpdatedSerializer),
    )
    def patch(self, request: Request, group_id: str, provider: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_KEYS)
        data = parse_body(GroupKeyMetadataInput, request)
        key = selectors.group_key_get(organization=org, provider=provider)
        key = services.provider_key_update_metadata(
            actor=self.caller,
            key=key,
            name=data.get("name"),
            description=data.get("description"),
            allowed=data.get("allowedUsers"),
        )
        return Response(render(GroupKeyUpdatedSerializer, selectors.key_listing(key)))

    @extend_schema(
        summary="Remove a group's key (owners/admins)",
        description="Deletes the group's key for this provider (audited); members stop using it at once.",
        responses=responses(MessageSerializer),
    )
    def delete(self, request: Request, group_id: str, provider: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_KEYS)
        key = selectors.group_key_get(organization=org, provider=provider)
        services.provider_key_delete(actor=self.caller, key=key)
        return Response(render(MessageSerializer, {"message": f"Removed {provider} key from group {org.slug}"}))


class UserKeyTestView(ByokAPIView):
    @extend_schema(
        summary="Test your stored key (or a key in the body, without storing it)",
        description="Checks the key live with the provider. For the stored key the result is recorded (its "
        "`status` and `lastValidatedAt` change); with `apiKey` in the body nothing is stored.",
        request=KeyTestInput,
        responses=responses(KeyTestedSerializer),
    )
    def post(self, request: Request, provider: str) -> Response:
        data = parse_body(KeyTestInput, request)
        outcome = services.key_test(
            actor=self.caller,
            provider=provider,
            raw=data.get("apiKey"),
            stored=lambda: selectors.user_key_get(user=self.caller, provider=provider),
        )
        return Response(render(KeyTestedSerializer, outcome))


class GroupKeyTestView(ByokAPIView):
    @extend_schema(
        summary="Test a group's stored key (owners/admins)",
        description="The group equivalent of testing your own key; the result is recorded on the group's key.",
        request=KeyTestInput,
        responses=responses(KeyTestedSerializer),
    )
    def post(self, request: Request, group_id: str, provider: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_KEYS)
        data = parse_body(KeyTestInput, request)
        outcome = services.key_test(
            actor=self.caller,
            provider=provider,
            raw=data.get("apiKey"),
            stored=lambda: selectors.group_key_get(organization=org, provider=provider),
        )
        return Response(render(KeyTestedSerializer, outcome))


class GroupDetailView(ByokAPIView):
    @extend_schema(
        summary="A group's members and key metadata (members only)",
        description="Members with their role and whether they have accepted, and the group's keys (metadata, "
        "with who may use each). A group you are not in is a 404.",
        responses=responses(GroupDetailSerializer),
    )
    def get(self, request: Request, group_id: str) -> Response:
        org, _ = group_selectors.group_access(user=self.caller, slug=group_id, need=Cap.VIEW)
        return Response(render(GroupDetailSerializer, selectors.group_detail(organization=org)))


class TokensView(ByokAPIView):
    @extend_schema(
        summary="Your API tokens",
        description="Every API token you created, with its state; never a token itself.",
        responses=responses(TokensSerializer),
    )
    def get(self, request: Request) -> Response:
        return Response(render(TokensSerializer, {"tokens": selectors.tokens_for_user(user=self.caller)}))

    @extend_schema(
        summary="Create an API token (shown once)",
        description="Creates a token for you (`Authorization: Bearer byokt_…`). The token is in this answer "
        "and nowhere else: it is stored only as a digest. `expiresAt` is optional (ISO 8601, in the future).",
        request=TokenInput,
        responses=responses(TokenCreatedSerializer, status=201),
    )
    def post(self, request: Request) -> Response:
        data = parse_body(TokenInput, request)
        token, plaintext = services.api_token_create(
            user=self.caller, name=data["name"], expires_at=data.get("expiresAt"), actor=self.caller
        )
        body = {"tokenId": token.prefix, "token": plaintext, "name": token.name, "expiresAt": token.expires_at}
        response = Response(render(TokenCreatedSerializer, body), status=status.HTTP_201_CREATED)
        response["Cache-Control"] = "no-store"
        return response


class TokenView(ByokAPIView):
    @extend_schema(
        summary="Revoke one of your API tokens",
        description="The token stops working at once. Another user's token is a 404.",
        responses=responses(MessageSerializer),
    )
    def delete(self, request: Request, token_id: str) -> Response:
        token = selectors.token_get(user=self.caller, token_id=token_id)
        services.api_token_revoke(token=token, actor=self.caller)
        return Response(render(MessageSerializer, {"message": f"Revoked {token.prefix}"}))
