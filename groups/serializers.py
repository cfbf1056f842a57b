"""Tenancy's JSON: input serializers parse requests; output serializers render responses and are the
OpenAPI schema. Memberships render with ``status`` ``active`` or ``invited``."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from common.errors import InvalidInput
from common.serializers import DisplayTextField, Envelope, IsoDateTime
from groups.models import AuditEvent, Membership
from groups.selectors import AUDIT_PAGE_MAX
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


# Documented as a date-time (a date alone is taken too): the schema promises no more than is accepted.
@extend_schema_field({"type": "string", "format": "date-time"})
class _SinceField(serializers.CharField):
    def to_internal_value(self, data: Any) -> datetime:  # type: ignore[override]
        text = str(super().to_internal_value(data)).strip()
        try:
            moment = parse_datetime(text)
            day = None if moment is not None else parse_date(text)
        except ValueError:
            moment = day = None
        if day is not None:
            moment = datetime.combine(day, time.min)
        if moment is None:
            raise InvalidInput(
                f"since must be an ISO 8601 date or time, e.g. 2026-01-31 or 2026-01-31T09:00:00Z (got '{text[:40]}'); "
                "write a '+' offset as %2B in a URL.",
                code="invalid_since",
            )
        try:
            # In UTC now: an offset that takes the moment out of the years 1-9999 is refused here, not by
            # the database.
            return moment.astimezone(UTC) if timezone.is_aware(moment) else moment.replace(tzinfo=UTC)
        except OverflowError:
            raise InvalidInput("since is out of range.", code="invalid_since") from None


class _CursorField(serializers.RegexField):
    def to_internal_value(self, data: Any) -> int:  # type: ignore[override]
        text = str(super().to_internal_value(data)).strip()
        if not text.isdigit() or len(text) > 19:
            raise InvalidInput("cursor must be the 'next' value of the previous page.", code="invalid_cursor")
        return int(text)


class _LimitField(serializers.IntegerField):
    def to_internal_value(self, data: Any) -> int:
        try:
            value = int(str(data).strip())
        except ValueError:
            value = 0
        if not 1 <= value <= AUDIT_PAGE_MAX:
            raise InvalidInput(f"limit must be a whole number from 1 to {AUDIT_PAGE_MAX}.", code="invalid_limit")
        return value


class AuditQueryInput(serializers.Serializer):
    """The query string of ``GET /api/byok/audit``."""

    group = serializers.CharField(
        required=False, max_length=63, help_text="A group you own or administer: its events instead of yours."
    )
    action = serializers.CharField(
        required=False, max_length=64, help_text="An action (`key.created`), or a prefix ending with `.` (`key.`)."
    )
    target = serializers.CharField(required=False, max_length=150, help_text="A target id (a keyId, `group/user`, …).")
    since = _SinceField(
        required=False, help_text="Only events at or after this ISO 8601 date or time (UTC unless it says otherwise)."
    )
    cursor = _CursorField(r"^[0-9]{1,19}$", required=False, help_text="The `next` of the previous page.")
    limit = _LimitField(
        required=False,
        default=50,
        min_value=1,
        max_value=AUDIT_PAGE_MAX,
        help_text=f"Events per page, 1-{AUDIT_PAGE_MAX} (default 50).",
    )


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


class AuditEventSerializer(serializers.Serializer):
    """Takes an ``AuditEvent`` (with its group selected)."""

    id = serializers.IntegerField()
    time = IsoDateTime(source="created_at")
    actor = serializers.SerializerMethodField(help_text="username; null for the system or the command line")
    action = serializers.CharField()
    targetType = serializers.CharField(source="target_type")
    targetId = serializers.CharField(source="target_id")
    groupId = serializers.SerializerMethodField(help_text="the group concerned, if any (null once deleted)")
    ip = serializers.CharField(source="ip_address", allow_null=True)
    details = serializers.DictField(help_text="what changed (never a secret)")

    def get_actor(self, event: AuditEvent) -> str | None:
        return event.actor_label or None

    def get_groupId(self, event: AuditEvent) -> str | None:
        return event.organization.slug if event.organization is not None else None


class AuditEventsSerializer(Envelope):
    """Takes a ``selectors.AuditPage``."""

    events = AuditEventSerializer(many=True)
    next = serializers.CharField(
        source="next_cursor", allow_null=True, help_text="pass as `cursor` for older events; null on the last page"
    )


class AuditExportSerializer(AuditEventSerializer):
    """One line of ``byok_audit_export``: the API's fields plus the event's place in the hash chain."""

    sequence = serializers.IntegerField()
    prevHash = serializers.CharField(source="prev_hash")
    hash = serializers.CharField()
