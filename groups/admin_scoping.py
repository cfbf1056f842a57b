"""Admin scoping for team administrators.

A group owner or admin given staff access (without superuser) sees and manages only their own
groups, those groups' memberships and keys: nothing of other groups or of other users' personal keys.
Platform staff (superusers, or staff holding ``groups.manage_all_groups``) see everything.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from groups.roles import is_platform_staff
from groups.selectors import groups_managed_by


def managed_groups(request: HttpRequest) -> QuerySet[Any]:
    cache_name = "_byok_managed_groups"
    if not hasattr(request, cache_name):
        setattr(request, cache_name, groups_managed_by(user=request.user))  # type: ignore[arg-type]
    return getattr(request, cache_name)


def is_team_admin(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and not is_platform_staff(user) and managed_groups(request).exists())


class TeamScopedAdmin(admin.ModelAdmin):
    """Team admins get the permissions below on the rows ``scope_queryset`` keeps."""

    team_can_add = False
    team_can_change = True
    team_can_delete = False

    def scope_queryset(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if is_platform_staff(request.user):
            return qs
        if is_team_admin(request):
            return self.scope_queryset(request, qs)
        return qs.none()

    def _team_allows(self, request: HttpRequest, obj: Model | None, flag: bool) -> bool:
        if not (flag and is_team_admin(request)):
            return False
        return obj is None or self.scope_queryset(request, self.model._default_manager.filter(pk=obj.pk)).exists()

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or is_team_admin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_staff(request.user):
            return super().has_view_permission(request, obj)
        return self._team_allows(request, obj, True)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_staff(request.user):
            return super().has_change_permission(request, obj)
        return self._team_allows(request, obj, self.team_can_change)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        if is_platform_staff(request.user):
            return super().has_add_permission(request, *args)
        return self._team_allows(request, None, self.team_can_add)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if is_platform_staff(request.user):
            return super().has_delete_permission(request, obj)
        return self._team_allows(request, obj, self.team_can_delete)


class ReadOnlyLogAdmin(TeamScopedAdmin):
    """Logs are written by the services only: nobody adds, edits or deletes rows in the admin."""

    team_can_change = False

    def scope_queryset(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        # Team administrators see the rows of their own groups only.
        return qs.filter(organization__in=managed_groups(request))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
