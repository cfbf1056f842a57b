"""Group endpoints under ``/api/byok/groups``: create and list groups, members and invitations.

Each view parses input with a serializer, calls one service or selector, and renders the result with
an output serializer (which is also the OpenAPI schema).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import ByokAPIView, parse_body
from common.schema import responses
from common.serializers import MessageSerializer, render
from groups import selectors, services
from groups.roles import Cap
from groups.serializers import (
    AuditEventsSerializer,
    AuditQueryInput,
    GroupCreatedSerializer,
    GroupCreateInput,
    GroupsSerializer,
    JoinedSerializer,
    MemberInput,
    MemberSetSerializer,
)


class GroupMemberView(ByokAPIView):
    @extend_schema(
        summary="Add a member or change their role (owners/admins)",
        description="Adds `userId` with `role` (default `member`) or changes their role. Someone added by an "
        "owner or admin is invited (`status: invited`) until they accept with `POST …/join`; platform staff "
        "add members directly. Only owners add, change or remove owners; the last owner cannot be demoted (409 "
        "`last_owner`). 201 when added, 200 when changed.",
        request=MemberInput,
        responses={**responses(MemberSetSerializer, extra=(409,)), 201: MemberSetSerializer},
    )
    def post(self, request: Request, group_id: str, user_id: str) -> Response:
        org, _ = selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_MEMBERS)
        data = parse_body(MemberInput, request)
        membership, created = services.membership_set(
            actor=self.caller, org=org, username=user_id, role=data.get("role")
        )
        return Response(
            render(MemberSetSerializer, membership),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Remove a member, or leave / decline an invitation",
        description="Owners and admins remove members (only owners remove owners); with your own username you "
        "leave the group or decline its invitation. The last accepted owner cannot go (409 `last_owner`).",
        responses=responses(MessageSerializer, extra=(409,)),
    )
    def delete(self, request: Request, group_id: str, user_id: str) -> Response:
        if user_id == self.caller.username:
            org = selectors.group_of_invitee(user=self.caller, slug=group_id)
            services.membership_remove(actor=self.caller, org=org, username=user_id)
            return Response(render(MessageSerializer, {"message": f"You left group {org.slug}"}))
        org, _ = selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_MEMBERS)
        services.membership_remove(actor=self.caller, org=org, username=user_id)
        return Response(render(MessageSerializer, {"message": f"Removed {user_id} from group {org.slug}"}))


class GroupJoinView(ByokAPIView):
    @extend_schema(
        summary="Accept an invitation to a group",
        description="Makes your pending membership active: from now on the group's keys can serve you.",
        request=None,
        responses=responses(JoinedSerializer),
    )
    def post(self, request: Request, group_id: str) -> Response:
        org = selectors.group_of_invitee(user=self.caller, slug=group_id)
        membership = services.membership_accept(user=self.caller, org=org)
        return Response(render(JoinedSerializer, membership))


class GroupsView(ByokAPIView):
    @extend_schema(
        operation_id="api_byok_groups_list",
        summary="Your groups",
        description="Every group you belong to or are invited to, with your role, your membership status and "
        "whether it is your default group.",
        responses=responses(GroupsSerializer),
    )
    def get(self, request: Request) -> Response:
        return Response(render(GroupsSerializer, {"groups": selectors.groups_for_user(user=self.caller)}))

    @extend_schema(
        summary="Create a group (you become its owner)",
        description="`id` is the group's permanent id in URLs (2-63 characters: lowercase letters, digits, "
        "`-`, `_`); an id that is taken is a 409.",
        request=GroupCreateInput,
        responses=responses(GroupCreatedSerializer, status=201, extra=(409,)),
    )
    def post(self, request: Request) -> Response:
        data = parse_body(GroupCreateInput, request)
        org = services.group_create(actor=self.caller, slug=data["id"], name=data.get("name", ""))
        return Response(render(GroupCreatedSerializer, org), status=status.HTTP_201_CREATED)


class AuditView(ByokAPIView):
    @extend_schema(
        summary="Audit events: yours, or a group's (owners/admins)",
        description="Newest first. Without `group`: what you did, what happened to your account (sign-ins and "
        "failed sign-ins) and everything about your personal keys and API tokens, whoever did it. With "
        "`group`: every event of a group you own or administer (a group you are not in is a 404; a member "
        "without the role gets a 403). Filter with `action` (exact, or a prefix ending with `.`), `target` "
        "(a target id) and `since` (ISO 8601; a bad value is a 400 `invalid_since`). Pages of `limit` "
        "events (at most 200): pass `next` back as `cursor` for older ones. Events never hold a secret.",
        parameters=[AuditQueryInput],
        responses=responses(AuditEventsSerializer),
    )
    def get(self, request: Request) -> Response:
        query = AuditQueryInput(data=request.query_params)
        query.is_valid(raise_exception=True)
        page = selectors.audit_page(user=self.caller, **query.validated_data)
        return Response(render(AuditEventsSerializer, page))
