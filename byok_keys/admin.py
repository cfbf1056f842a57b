"""Admin for provider keys and API tokens. A secret is only ever typed in (a password field that is
never rendered back); lists and pages show last4, never the secret or its ciphertext."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import csrf_protect_m
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.formats import localize
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from byok_keys import services
from byok_keys.admin_forms import (
    SECRET_FIELD,
    ProviderKeyForm,
    config_specs,
    credential_field_names,
    spec_of,
)
from byok_keys.models import ApiToken, ProviderKey
from byok_keys.usage import with_usage
from groups.admin_scoping import TeamScopedAdmin, managed_groups
from groups.models import User
from providers.validation import KeyStatus

# Every input a credential is typed into: kept out of error reports.
_CREDENTIAL_INPUTS = credential_field_names(None)

_STATUS_LEVEL = {
    KeyStatus.VALID: messages.SUCCESS,
    KeyStatus.RESTRICTED: messages.WARNING,
    KeyStatus.NO_CREDIT: messages.WARNING,
    KeyStatus.UNVERIFIED: messages.WARNING,
    KeyStatus.INVALID: messages.ERROR,
}


def _outcome(status: str, reason: str) -> str:
    """Live validation's outcome in words: "valid", "valid, restricted: <reason>", "unverified: <reason>"."""
    label = str(ProviderKey.Status(status).label).lower() if status in ProviderKey.Status.values else status
    # A valid key's reason only says that the provider accepted it.
    return f"{label}: {reason}" if reason and status != KeyStatus.VALID else label


@admin.register(ProviderKey)
class ProviderKeyAdmin(TeamScopedAdmin):
    form = ProviderKeyForm
    change_form_template = "admin/byok_keys/providerkey/change_form.html"
    team_can_add = True
    team_can_delete = True
    # Fits 1280 px without scrolling; the rest is on the key's page.
    list_display = ("owner", "provider", "name", "last4", "status_badge", "last_used")
    list_filter = ("provider", "status")
    # Never the secret: it is not searchable.
    search_fields = ("key_id", "name", "user__username", "organization__slug")
    readonly_fields = (
        "key_id",
        "last4",
        "status",
        "status_reason",
        "last_validated_at",
        "usage",
        "last_used",
        "created_at",
        "updated_at",
    )
    actions = ["test_keys", "revoke_keys"]

    class Media:
        css = {"all": ("byok_keys/admin/keys.css",)}
        js = ("byok_keys/admin/provider_fields.js",)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        spec = spec_of(obj.provider) if obj is not None else None
        # The add page: every provider's inputs, one group each (the script shows the chosen one's);
        # a key's page: its provider's only.
        specs = config_specs() if obj is None else ([spec] if spec is not None and spec.requires_config else [])
        credentials: list[tuple[str, dict[str, Any]]] = []
        if obj is None or not specs:
            single_key: dict[str, Any] = {
                "fields": (SECRET_FIELD,),
                "classes": ("byok-credentials", "byok-credentials-single-key"),
            }
            if obj is None:
                names = ", ".join(config_spec.name for config_spec in specs)
                single_key["description"] = f"Every provider but those with their own fields ({names})."
            credentials.append(("Key", single_key))
        for config_spec in specs:
            credentials.append(
                (
                    f"{config_spec.name} credentials",
                    {
                        "fields": credential_field_names(config_spec),
                        "classes": ("byok-credentials", f"byok-credentials-for-{config_spec.id}"),
                        "description": (
                            "The stored values are sealed and not shown. Leave every field empty to keep them; "
                            "to replace the credential, fill in all its fields."
                            if obj is not None
                            else f"Only for {config_spec.name} keys."
                        ),
                    },
                )
            )
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ("provider", "owner_user", "organization", "name", "description")}),
            *credentials,
        ]
        if obj is None or obj.organization_id:
            fieldsets.append(("Group sharing", {"fields": ("allowed_users_text",)}))
        if obj is not None:
            fieldsets.append(("State", {"fields": self.readonly_fields}))
        return fieldsets

    def scope_queryset(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        return qs.filter(organization__in=managed_groups(request))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("user", "organization")

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        with_usage(changelist.result_list)  # the page's keys, which its queryset keeps for the page
        return changelist

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        key = super().get_object(request, object_id, from_field)
        return with_usage([key])[0] if key is not None else None

    @admin.display(description="owner", ordering="organization__slug")
    def owner(self, obj: ProviderKey) -> str:
        return obj.owner_label

    @admin.display(description="usage")
    def usage(self, obj: ProviderKey) -> int:
        return obj.current_usage_count

    # Sorted by the time rolled up onto the key: at most one roll-up behind what is shown.
    @admin.display(description="last used", ordering="last_used_at")
    def last_used(self, obj: ProviderKey) -> str | None:
        # Formatted here: a key's page shows a method's value as it is (its list formats datetimes).
        last = obj.current_last_used_at
        return localize(localtime(last)) if last is not None else None

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: ProviderKey) -> str:
        return format_html(
            '<span class="byok-status byok-status-{}" title="{}">{}</span>',
            obj.status,
            obj.status_reason,
            obj.get_status_display(),
        )

    # ---- Testing keys live -------------------------------------------------------------------
    def _test_key(self, request: HttpRequest, key: ProviderKey) -> None:
        """Check ``key`` live (recorded on the key) and say the outcome in one message."""
        what = f"{key.owner_label} {key.provider} key …{key.last4}" + (f" ({key.name})" if key.name else "")
        if key.status == ProviderKey.Status.REVOKED:
            self.message_user(request, f"{what}: revoked, not tested.", messages.WARNING)
            return
        # No transaction is open here (neither the action nor the view opens one): this calls the provider.
        result = services.provider_key_validate(key=key, actor=request.user)  # type: ignore[arg-type]
        outcome = _outcome(result.status.value, result.reason)
        if result.status is KeyStatus.UNVERIFIED:
            outcome += " (the key's status is unchanged)"
        self.message_user(request, f"{what}: {outcome}", _STATUS_LEVEL[result.status])

    @admin.action(description="Test selected keys (live, with the provider)", permissions=["change"])
    def test_keys(self, request: HttpRequest, queryset: QuerySet[ProviderKey]) -> None:
        for key in queryset:
            self._test_key(request, key)

    def test_key_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The "Test key" button of a key's page (POST): test it, then back to its page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        key = self.get_object(request, unquote(object_id))
        if key is None or not self.has_change_permission(request, key):
            raise Http404("No such provider key.")  # another tenant's key is a 404, not a 403
        self._test_key(request, key)
        return HttpResponseRedirect(reverse("admin:byok_keys_providerkey_change", args=[key.pk]))

    def get_urls(self) -> list[URLPattern]:
        test = path(
            "<path:object_id>/test/",
            self.admin_site.admin_view(csrf_protect(self.test_key_view)),
            name="byok_keys_providerkey_test",
        )
        return [test, *super().get_urls()]

    @admin.action(description="Revoke selected keys (kept, but never used again)", permissions=["change"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ProviderKey]) -> None:
        for key in queryset:
            services.provider_key_revoke(actor=request.user, key=key)  # type: ignore[arg-type]
        self.message_user(request, f"Revoked {queryset.count()} key(s).")

    # ---- Saving through the one key service --------------------------------------------------
    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form_class = super().get_form(request, obj, change=change, **kwargs)

        class RequestForm(form_class):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **inner: Any) -> None:
                super().__init__(*args, request=request, **inner)

        return RequestForm

    @method_decorator(sensitive_post_parameters(*_CREDENTIAL_INPUTS))
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
        result = form.result
        if result is None or not form.checked_live:
            return  # metadata only: the stored key was kept, and not checked again
        key = result.key
        spec = spec_of(key.provider)
        checked_by = spec.name if spec is not None else key.provider
        level = _STATUS_LEVEL.get(KeyStatus(key.status), messages.INFO)
        # The outcome of the live validation the service just made (invalid was a form error).
        self.message_user(
            request, f"Validated live with {checked_by}: {_outcome(key.status, key.status_reason)}", level
        )

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
