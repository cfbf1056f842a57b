"""Admin for keys, tokens and the audit log. A secret is only ever typed in (a password field that is
never rendered back); lists and pages show last4, never the secret or its ciphertext."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from byok_keys import services
from byok_keys.models import ApiToken, ProviderKey
from byok_keys.services import AllowedUsers, KeyOwner
from common.errors import ServiceError
from groups.admin_scoping import TeamScopedAdmin, managed_groups
from groups.models import Organization, User
from groups.roles import is_platform_staff
from providers.registry import all_adapter_classes


def _provider_choices() -> list[tuple[str, str]]:
    return [(cls.spec.id, f"{cls.spec.name} ({cls.spec.id})") for cls in all_adapter_classes()]


class ProviderKeyForm(forms.ModelForm):
    provider = forms.ChoiceField(choices=_provider_choices)
    owner_user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        to_field_name="username",
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "username"}),
        label="Owner (user)",
        help_text="For a personal key: the user's username. Leave empty for a group key.",
    )
    organization = forms.ModelChoiceField(queryset=Organization.objects.all(), required=False, label="Owner (group)")
    secret = forms.CharField(
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        required=False,
        label="Secret",
        help_text="The provider key; for providers with config fields, a JSON object of them. "
        "Leave empty to keep the stored secret. It is never shown again.",
    )
    allowed_users_text = forms.CharField(
        required=False,
        label="Allowed users",
        help_text='Group keys: "all" (or empty) for every member, or member usernames separated by commas.',
    )

    class Meta:
        model = ProviderKey
        fields = ("name", "description")

    def __init__(self, *args: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.result: services.KeySetResult | None = None
        instance = self.instance
        if request is not None and not is_platform_staff(request.user):
            self.fields["organization"].queryset = managed_groups(request)  # type: ignore[attr-defined]
            self.fields["owner_user"].disabled = True
            self.fields["owner_user"].help_text = "Team administrators manage group keys only."
        if instance.pk:
            for name in ("provider", "owner_user", "organization"):
                self.fields[name].disabled = True
            self.fields["provider"].initial = instance.provider
            self.fields["owner_user"].initial = instance.user.username if instance.user_id else None
            self.fields["organization"].initial = instance.organization_id
            if instance.organization_id:
                self.initial["allowed_users_text"] = (
                    "all" if instance.allow_all_members else ", ".join(u.username for u in instance.allowed_users.all())
                )
        else:
            self.fields["secret"].required = True

    def _post_clean(self) -> None:
        # No model validation of the form's unsaved instance: the service in clean() validated and
        # stored the key (and holds the database constraints), so the instance is not what is stored.
        pass

    def _allowed_users(self) -> AllowedUsers:
        text = (self.cleaned_data.get("allowed_users_text") or "").strip()
        if not text or text == "all":
            return AllowedUsers()
        return AllowedUsers.parse([name.strip() for name in text.split(",") if name.strip()])

    def clean(self) -> dict[str, Any]:
        """Runs the one key service, so the admin refuses exactly what the API refuses."""
        data = super().clean() or {}
        if self.errors or self.request is None:
            return data
        actor = cast(User, self.request.user)
        instance = self.instance
        try:
            if instance.pk is None:
                owner_user, org = data.get("owner_user"), data.get("organization")
                if (owner_user is None) == (org is None):
                    raise forms.ValidationError("Choose exactly one owner: a user or a group.")
                owner = KeyOwner(user=owner_user) if owner_user else KeyOwner(organization=org)
                self.result = services.provider_key_set(
                    actor=actor,
                    owner=owner,
                    provider=data["provider"],
                    raw=data.get("secret"),
                    name=data.get("name", ""),
                    description=data.get("description", ""),
                    allowed=self._allowed_users() if org else None,
                )
            elif data.get("secret"):
                owner = (
                    KeyOwner(user=instance.user) if instance.user_id else KeyOwner(organization=instance.organization)
                )
                self.result = services.provider_key_set(
                    actor=actor,
                    owner=owner,
                    provider=instance.provider,
                    raw=data["secret"],
                    name=data.get("name", ""),
                    description=data.get("description", ""),
                    allowed=self._allowed_users() if instance.organization_id else None,
                )
            else:
                key = services.provider_key_update_metadata(
                    actor=actor,
                    key=instance,
                    name=data.get("name", ""),
                    description=data.get("description", ""),
                    allowed=self._allowed_users() if instance.organization_id else None,
                )
                self.result = services.KeySetResult(key=key, created=False)
        except ServiceError as exc:
            raise forms.ValidationError(exc.message) from None
        return data


@admin.register(ProviderKey)
class ProviderKeyAdmin(TeamScopedAdmin):
    form = ProviderKeyForm
    team_can_add = True
    team_can_delete = True
    list_display = (
        "key_id",
        "owner",
        "provider",
        "last4",
        "status",
        "usage_count",
        "last_used_at",
        "updated_at",
    )
    list_filter = ("provider", "status")
    # Never the secret: it is not searchable.
    search_fields = ("key_id", "name", "user__username", "organization__slug")
    readonly_fields = (
        "key_id",
        "last4",
        "status",
        "status_reason",
        "last_validated_at",
        "usage_count",
        "last_used_at",
        "created_at",
        "updated_at",
    )
    fieldsets = (
        (None, {"fields": ("provider", "owner_user", "organization", "name", "description")}),
        ("Secret", {"fields": ("secret",)}),
        ("Group sharing", {"fields": ("allowed_users_text",)}),
        ("State", {"fields": readonly_fields}),
    )

    actions = ["revoke_keys"]

    def scope_queryset(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        return qs.filter(organization__in=managed_groups(request))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("user", "organization")

    @admin.action(description="Revoke selected keys (kept, but never used again)")
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ProviderKey]) -> None:
        for key in queryset:
            services.provider_key_revoke(actor=request.user, key=key)  # type: ignore[arg-type]
        self.message_user(request, f"Revoked {queryset.count()} key(s).")

    @admin.display(description="owner")
    def owner(self, obj: ProviderKey) -> str:
        return obj.owner_label

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class RequestForm(form_class):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **inner: Any) -> None:
                super().__init__(*args, request=request, **inner)

        return RequestForm

    @method_decorator(sensitive_post_parameters("secret"))
    @csrf_protect_m
    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Deliberately not wrapped in a transaction (ModelAdmin's default is): saving a key may call
        # the provider to validate it, and a provider call must never hold a transaction open.
        # The service owns its own transaction.
        return self._changeform_view(request, object_id, form_url, extra_context)  # type: ignore[attr-defined,no-any-return]

    def save_form(self, request: HttpRequest, form: Any, change: bool) -> Any:
        return form.result.key  # already stored by the service in form.clean()

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if form.result and form.result.warning:
            messages.warning(request, form.result.warning)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        pass

    def delete_model(self, request: HttpRequest, obj: ProviderKey) -> None:
        services.provider_key_delete(actor=request.user, key=obj)  # type: ignore[arg-type]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for key in queryset:
            services.provider_key_delete(actor=request.user, key=key)  # type: ignore[arg-type]


class ApiTokenAddForm(forms.ModelForm):
    user = forms.ModelChoiceField(
        queryset=User.objects.filter(is_active=True),
        to_field_name="username",
        widget=forms.TextInput(attrs={"placeholder": "username"}),
    )

    class Meta:
        model = ApiToken
        fields = ("user", "name", "expires_at")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("lookup_id", "name", "user__username")
    readonly_fields = ("prefix", "user", "name", "created_at", "last_used_at", "expires_at", "revoked_at")
    actions = ["revoke_tokens"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
            kwargs["fields"] = ("user", "name", "expires_at")
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else ("user", "name", "expires_at")

    def save_model(self, request: HttpRequest, obj: ApiToken, form: Any, change: bool) -> None:
        if change:
            return
        token, plaintext = services.api_token_create(
            user=form.cleaned_data["user"],
            name=form.cleaned_data["name"],
            expires_at=form.cleaned_data.get("expires_at"),
            actor=request.user,  # type: ignore[arg-type]
        )
        obj.pk = token.pk
        # Shown once on the next page; never stored, never put in a message or a cookie.
        request._byok_new_token = plaintext  # type: ignore[attr-defined]

    def response_add(self, request: HttpRequest, obj: ApiToken, post_url_continue: str | None = None) -> HttpResponse:
        plaintext = getattr(request, "_byok_new_token", None)
        if plaintext is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "token": plaintext,
            "obj": obj,
            "opts": self.model._meta,
            "title": "API token created",
        }
        response = TemplateResponse(request, "admin/byok_keys/apitoken/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="Revoke selected tokens")
    def revoke_tokens(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = 0
        for token in queryset.filter(revoked_at__isnull=True):
            services.api_token_revoke(token=token, actor=request.user)  # type: ignore[arg-type]
            count += 1
        self.message_user(request, f"Revoked {count} token(s).")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False if obj is not None else super().has_change_permission(request, obj)
