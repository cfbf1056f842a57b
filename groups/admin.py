"""Admin for users, groups and the audit log, and the admin site's own settings."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group as PermissionGroup
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from groups import services
from groups.admin_scoping import ReadOnlyLogAdmin, TeamScopedAdmin, is_team_admin, managed_groups
from groups.audit import audit_chain_verify
from groups.models import AuditEvent, Membership, Organization, User
from groups.roles import is_platform_staff

# "View site" leads to the key management page; the header names the service.
admin.site.site_url = "/byok-interface.html"
admin.site.site_header = "BYOK key vault administration"
admin.site.site_title = "BYOK key vault admin"
admin.site.index_title = "Users, groups and keys"

# Django's permission groups are not used (platform staff hold ``groups.manage_all_groups`` directly):
# hidden, so the admin has one "Groups" entry, ours.
if admin.site.is_registered(PermissionGroup):
    admin.site.unregister(PermissionGroup)


class UserOnboardForm(forms.ModelForm):
    """Staff create a user without a password: the user sets it through a one-time link."""

    class Meta:
        model = User
        fields = ("username", "email", "is_staff")
        labels = {"is_staff": "Staff"}
        help_texts = {
            "email": "Optional; lets them reset a forgotten password by email.",
            "is_staff": "Lets them sign in to this admin (team administrators also need a group role).",
        }


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "user_permissions")}),
        ("Important dates", {"fields": ("last_login", "date_joined")}),
        ("BYOK", {"fields": ("default_group",)}),
    )
    add_form = UserOnboardForm
    add_form_template = None
    add_fieldsets = (
        (
            None,
            {
                "fields": ("username", "email", "is_staff"),
                "description": "The new user gets no password: the next page shows a one-time link where "
                "they choose their own.",
            },
        ),
    )
    list_display = ("username", "email", "is_staff", "is_active", "default_group")
    list_filter = ("is_staff", "is_superuser", "is_active")
    filter_horizontal = ("user_permissions",)

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        user, path = services.user_onboard(
            actor=request.user,  # type: ignore[arg-type]
            username=form.cleaned_data["username"],
            email=form.cleaned_data.get("email", ""),
            staff=bool(form.cleaned_data.get("is_staff")),
        )
        obj.pk, obj.password = user.pk, user.password
        # Shown once on the next page; never stored, never put in a message or a cookie.
        request._byok_set_password_link = request.build_absolute_uri(path)  # type: ignore[attr-defined]

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        if change:
            super().save_related(request, form, formsets, change)

    def response_add(self, request: HttpRequest, obj: User, post_url_continue: str | None = None) -> HttpResponse:
        link = getattr(request, "_byok_set_password_link", None)
        if link is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "link": link,
            "obj": obj,
            "expires_at": timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT),
            "opts": self.model._meta,
            "title": "User created",
        }
        response = TemplateResponse(request, "admin/groups/user/created.html", context)
        response["Cache-Control"] = "no-store"
        return response


class MembershipForm(forms.ModelForm):
    # Typed as a username, so team admins never see the list of every user.
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        to_field_name="username",
        widget=forms.TextInput(attrs={"placeholder": "username"}),
        help_text="Username of an existing active user.",
        error_messages={"invalid_choice": "No active user has this username."},
    )

    class Meta:
        model = Membership
        fields = ("user", "role")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The model form's initial value is the user's id, which the box would show and which is
            # no valid username: show (and compare with) the username so the row round-trips.
            self.initial["user"] = self.instance.user.username
            # A membership belongs to one user: to move it, remove the row and add another.
            self.fields["user"].disabled = True
            self.fields["user"].help_text = ""


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

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("user")

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
        "sequence",
        "created_at",
        "actor_label",
        "action",
        "target_type",
        "target_id",
        "organization",
        "ip_address",
        "short_hash",
    )
    # Related-only: a team administrator's filter lists their groups, never every group's name.
    list_filter = ("action", "target_type", ("organization", admin.RelatedOnlyFieldListFilter), "created_at")
    search_fields = ("target_id", "actor_label", "action")
    date_hierarchy = "created_at"
    list_select_related = ("organization",)

    @admin.display(description="hash", ordering="sequence")
    def short_hash(self, obj: AuditEvent) -> str:
        return obj.hash[:12] + "…"

    def get_urls(self) -> list[Any]:
        verify = path("verify/", self.admin_site.admin_view(self.verify_chain_view), name="groups_auditevent_verify")
        return [verify, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {**(extra_context or {}), "can_verify_chain": is_platform_staff(request.user)}
        return super().changelist_view(request, extra)

    def verify_chain_view(self, request: HttpRequest) -> HttpResponse:
        """The same check as ``manage.py byok_audit_verify`` (which suits long logs better), for platform
        staff: the whole chain spans every group, so team administrators cannot run it."""
        if not is_platform_staff(request.user):
            raise PermissionDenied
        report = audit_chain_verify()
        if report.intact:
            self.message_user(
                request,
                f"{report.events} events, chain intact (head #{report.head_sequence}, hash {report.head_hash}).",
                messages.SUCCESS,
            )
        else:
            self.message_user(request, f"Audit chain broken: {report.problem}", messages.ERROR)
        return HttpResponseRedirect(reverse("admin:groups_auditevent_changelist"))
