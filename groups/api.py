"""Group endpoints under ``/api/byok/groups``: create and list groups, members and invitations.

Views parse input, call one service or selector, and render with an output serializer.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from common.api import ByokAPIView, parse_body
from common.schema import MESSAGE, S, errors, obj, objs, ok
from groups import selectors, services
from groups.models import Membership
from groups.roles import Cap


class MemberInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)


class GroupCreateInput(serializers.Serializer):
    id = serializers.CharField(max_length=63)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)




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
        org, _ = selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_MEMBERS)
        data = parse_body(MemberInput, request)
        membership, created = services.membership_set(
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
            org = selectors.group_of_invitee(user=self.caller, slug=group_id)
            services.membership_remove(actor=self.caller, org=org, username=user_id)
            return Response({"success": True, "message": f"You left group {org.slug}"})
        org, _ = selectors.group_access(user=self.caller, slug=group_id, need=Cap.MANAGE_MEMBERS)
        services.membership_remove(actor=self.caller, org=org, username=user_id)
        return Response({"success": True, "message": f"Removed {user_id} from group {org.slug}"})


class GroupJoinView(ByokAPIView):
    @extend_schema(
        summary="Accept an invitation to a group",
        request=None,
        responses=ok("Joined", {"groupId": S.CharField(), "role": S.CharField(), "status": S.CharField()}),
    )
    def post(self, request: Request, group_id: str) -> Response:
        org = selectors.group_of_invitee(user=self.caller, slug=group_id)
        membership = services.membership_accept(user=self.caller, org=org)
        return Response({"success": True, "groupId": org.slug, "role": membership.role, "status": "active"})


class GroupsView(ByokAPIView):
    @extend_schema(
        operation_id="api_byok_groups_list",
        summary="Your groups",
        responses=ok("Groups", {"groups": objs("id, name, role, status (active or invited), isDefault")}),
    )
    def get(self, request: Request) -> Response:
        memberships = selectors.groups_for_user(user=self.caller)
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
        data = parse_body(GroupCreateInput, request)
        org = services.group_create(actor=self.caller, slug=data["id"], name=data.get("name", ""))
        return Response(
            {"success": True, "group": {"id": org.slug, "name": org.name, "role": Membership.Role.OWNER}},
            status=status.HTTP_201_CREATED,
        )


