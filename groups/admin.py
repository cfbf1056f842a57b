from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest

from groups import services
from groups.admin_scoping import ReadOnlyLogAdmin, TeamScopedAdmin, is_team_admin, managed_groups
from groups.models import AuditEvent, Membership, Organization, User
from groups.roles import is_platform_staff


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (*(DjangoUserAdmin.fieldsets or ()), ("BYOK", {"fields": ("default_group",)}))
    list_display = ("username", "email", "is_staff", "is_active", "default_group")


class MembershipForm(forms.ModelForm):
    # Typed as a username, so team admins never see the list of every user.
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        to_field_name="username",
        widget=forms.TextInput(attrs={"placeholder": "username"}),
        help_text="Username of an existing active user.",
    )

    class Meta:
        model = Membership
        fields = ("user", "role")


class MembershipFormSet(BaseInlineFormSet):
    actor: User | None = None

    def clean(self) -> None:
        """The service's rules, checked up front so the admin shows them as form errors."""
        super().clean()
        if any(self.errors) or self.instance.pk is None:
            return
        actor_is_staff = self.actor is not None and is_platform_staff(self.actor)
        actor_is_owner = self.actor is not None and (
            actor_is_staff
            or Membership.objects.active()
            .filter(organization=self.instance, user=self.actor, role=Membership.Role.OWNER)
            .exists()
        )
        remaining_owners = 0
        for form in self.forms:
            if not form.cleaned_data:
                continue
            touched = form.has_changed() or form.cleaned_data.get("DELETE")
            roles = {form.cleaned_data.get("role"), form.initial.get("role")}
            if touched and Membership.Role.OWNER in roles and not actor_is_owner:
                raise forms.ValidationError("Only group owners can add, change or remove owners.")
            if form.cleaned_data.get("DELETE") or form.cleaned_data.get("role") != Membership.Role.OWNER:
                continue
            # Only accepted owners count (an invitation may never be accepted); a new row counts when
            # platform staff add it, because their additions are immediate.
            existing = form.instance if form.instance.pk else None
            if (existing is not None and existing.is_active) or (existing is None and actor_is_staff):
                remaining_owners += 1
        if remaining_owners == 0:
            raise forms.ValidationError(
                "A group must keep at least one owner who has accepted; an invited owner does not count yet."
            )


class MembershipInline(admin.TabularInline):
    model = Membership
    form = MembershipForm
    formset = MembershipFormSet
    extra = 1
    fields = ("user", "role", "accepted_at", "invited_by")
    readonly_fields = ("accepted_at", "invited_by")

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        formset.actor = request.user  # type: ignore[attr-defined]
        return formset

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform_staff(request.user) or is_team_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_add_permission(request, obj)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_add_permission(request, obj)


@admin.register(Organization)
class OrganizationAdmin(TeamScopedAdmin):
    list_display = ("slug", "name", "member_count", "created_at")
    search_fields = ("slug", "name")
    inlines = [MembershipInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("slug",) if obj is not None else ()

    def scope_queryset(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        return qs.filter(pk__in=managed_groups(request).values("pk"))

    @admin.display(description="members")
    def member_count(self, obj: Organization) -> int:
        return obj.memberships.count()

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        if change:
            services.group_rename(actor=request.user, org=obj, name=obj.name)  # type: ignore[arg-type]
            return
        # Through the service, so the creator becomes owner and the audit event is written.
        created = services.group_create(actor=request.user, slug=obj.slug, name=obj.name)  # type: ignore[arg-type]
        obj.pk = created.pk
        obj.created_at = created.created_at

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not Membership:
            super().save_formset(request, form, formset, change)
            return
        org = form.instance
        actor = request.user
        # Additions and role changes first, removals last, so an owner hand-over never leaves zero owners.
        for inline_form in formset.forms:
            data = inline_form.cleaned_data
            if not data or data.get("DELETE") or not inline_form.has_changed():
                continue
            services.membership_set(actor=actor, org=org, username=data["user"].username, role=data["role"])  # type: ignore[arg-type]
        for inline_form in formset.forms:
            data = inline_form.cleaned_data
            if data and data.get("DELETE") and inline_form.instance.pk:
                services.membership_remove(actor=actor, org=org, username=inline_form.instance.user.username)  # type: ignore[arg-type]
        # The admin's change message reads these; the audit log has the details.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyLogAdmin):
    list_display = (
        "created_at",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "organization",
        "ip_address",
    )
    list_filter = ("action", "target_type", "created_at")
    search_fields = ("target_id", "actor_label", "action")
    date_hierarchy = "created_at"
