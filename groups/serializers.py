"""Tenancy's JSON: input serializers parse requests; output serializers render responses and are the
OpenAPI schema. Memberships render with ``status`` ``active`` or ``invited``."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.serializers import DisplayTextField, Envelope
from groups.models import Membership
from groups.services import _SLUG_RE as GROUP_ID_RE

# ---- input ----------------------------------------------------------------------------------


class MemberInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=Membership.Role.choices, required=False)


@extend_schema_field({"type": "string", "pattern": GROUP_ID_RE.pattern, "minLength": 2, "maxLength": 63})
class GroupIdField(serializers.CharField):
    """A new group's id, documented with its rule; the service checks it (``invalid_group_id``)."""


class GroupCreateInput(serializers.Serializer):
    id = GroupIdField(max_length=63)
    name = DisplayTextField(max_length=200, required=False, allow_blank=True)


# ---- output ---------------------------------------------------------------------------------


def membership_status(membership: Membership) -> str:
    return "active" if membership.is_active else "invited"


class MemberSetSerializer(Envelope):
    """Takes a ``Membership``."""

    groupId = serializers.CharField(source="organization.slug")
    userId = serializers.CharField(source="user.username")
    role = serializers.CharField()
    status = serializers.SerializerMethodField(help_text="active, or invited until they accept")

    def get_status(self, membership: Membership) -> str:
        return membership_status(membership)


class JoinedSerializer(Envelope):
    """Takes a ``Membership``."""

    groupId = serializers.CharField(source="organization.slug")
    role = serializers.CharField()
    status = serializers.SerializerMethodField()

    def get_status(self, membership: Membership) -> str:
        return membership_status(membership)


class MyGroupSerializer(serializers.Serializer):
    """One of the caller's memberships (invitations included)."""

    id = serializers.CharField(source="organization.slug")
    name = serializers.CharField(source="organization.name")
    role = serializers.CharField()
    status = serializers.SerializerMethodField(help_text="active or invited")
    isDefault = serializers.SerializerMethodField(help_text="the group whose keys are tried first")

    def get_status(self, membership: Membership) -> str:
        return membership_status(membership)

    def get_isDefault(self, membership: Membership) -> bool:
        return membership.organization_id == membership.user.default_group_id


class GroupsSerializer(Envelope):
    groups = MyGroupSerializer(many=True)


class CreatedGroupSerializer(serializers.Serializer):
    id = serializers.CharField(source="slug")
    name = serializers.CharField()
    role = serializers.SerializerMethodField(help_text="always owner: the creator owns the group")

    def get_role(self, organization: Any) -> str:
        return Membership.Role.OWNER.value


class GroupCreatedSerializer(Envelope):
    """Takes the new ``Organization``."""

    group = CreatedGroupSerializer(source="*")
