"""The provider key form of the admin: the provider's own inputs, and the one key service behind them.

A provider with config fields (Azure, Bedrock, …) gets one input per field: a password input for each
secret, URL and text inputs for the rest. Every other provider gets one password input for its key.
The add page renders every provider's inputs, grouped and named per provider (a static script shows
only the chosen provider's group); only the chosen provider's inputs are read. A secret is only ever
typed in: password inputs never render a value back, and a stored credential is never opened here.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.http import HttpRequest
from django.views.decorators.debug import sensitive_variables

from byok_keys import services
from byok_keys.models import ProviderKey
from byok_keys.services import AllowedUsers, KeyOwner
from common.errors import ServiceError
from groups.admin_scoping import managed_groups
from groups.models import Organization, User
from groups.roles import is_platform_staff
from providers.base import ConfigField, FieldKind, ProviderSpec
from providers.registry import UnknownProviderError, all_adapter_classes, get_adapter_class

# The input of a provider's one key (providers without config fields).
SECRET_FIELD = "secret"
# Errors of the service about the key itself (shown at the key's input).
_KEY_ERROR_CODES = frozenset(
    {"missing_api_key", "invalid_key_format", "wrong_key_kind", "invalid_key", "key_revoked", "unsafe_url"}
)


def config_field_name(provider: str, field: str) -> str:
    """The form field of one config field of one provider, e.g. ``azure__endpoint_url``."""
    return f"{provider}__{field}"


def config_specs() -> list[ProviderSpec]:
    return [cls.spec for cls in all_adapter_classes() if cls.spec.requires_config]


def spec_of(provider: str) -> ProviderSpec | None:
    try:
        return get_adapter_class(provider).spec
    except UnknownProviderError:
        return None


def credential_field_names(spec: ProviderSpec | None) -> tuple[str, ...]:
    """The inputs that hold ``spec``'s credential (None: every provider's, as on the add page)."""
    if spec is None:
        return (SECRET_FIELD, *(name for s in config_specs() for name in credential_field_names(s)))
    if spec.requires_config:
        return tuple(config_field_name(spec.id, f.name) for f in spec.config_fields)
    return (SECRET_FIELD,)


def _config_form_field(spec: ProviderSpec, config_field: ConfigField) -> forms.Field:
    plain = {"autocomplete": "off", "spellcheck": "false"}
    widget: forms.Widget
    if config_field.kind is FieldKind.SECRET:
        # render_value=False: a secret typed in is never sent back, not even after a form error.
        widget = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
    elif config_field.kind is FieldKind.URL:
        widget = forms.URLInput(attrs=plain)
    else:
        widget = forms.TextInput(attrs=plain)
    hint = config_field.hint
    if config_field.kind is FieldKind.SECRET:
        hint = f"{hint} Never shown again.".strip()
    # Not required here: only the chosen provider's inputs count, and the service says what is missing.
    return forms.CharField(
        required=False,
        label=config_field.label + ("" if config_field.required else " (optional)"),
        help_text=hint,
        widget=widget,
    )


def _provider_choices() -> list[tuple[str, str]]:
    return [(cls.spec.id, f"{cls.spec.name} ({cls.spec.id})") for cls in all_adapter_classes()]


# Every config provider's inputs, declared on the form class (the admin builds its form from them).
CredentialInputs = type(
    "CredentialInputs",
    (forms.Form,),
    {
        config_field_name(spec.id, f.name): _config_form_field(spec, f)
        for spec in config_specs()
        for f in spec.config_fields
    },
)


class ProviderKeyForm(CredentialInputs, forms.ModelForm):  # type: ignore[valid-type,misc]
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
        label="Key",
        help_text="The provider key. It is never shown again.",
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
        # Whether the key was stored (and so checked live) rather than only renamed or re-shared.
        self.checked_live = False
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
            spec = spec_of(instance.provider)
            if SECRET_FIELD in self.fields:
                hint = f"{spec.key_hint} " if spec is not None and spec.key_hint else ""
                self.fields[
                    SECRET_FIELD
                ].help_text = (
                    f"{hint}Leave empty to keep the stored key; a new key replaces it. It is never shown again."
                )

    def _post_clean(self) -> None:
        # No model validation of the form's unsaved instance: the service in clean() validated and
        # stored the key (and holds the database constraints), so the instance is not what is stored.
        pass

    def _allowed_users(self) -> AllowedUsers:
        text = (self.cleaned_data.get("allowed_users_text") or "").strip()
        if not text or text == "all":
            return AllowedUsers()
        return AllowedUsers.parse([name.strip() for name in text.split(",") if name.strip()])

    @sensitive_variables("values", "secret")
    def credential(self, provider: str) -> object | None:
        """What the service gets as the key: the chosen provider's filled inputs (a dict of its config
        fields, or its one key), or None when they are all empty."""
        spec = spec_of(provider)
        if spec is None or not spec.requires_config:
            secret = self.cleaned_data.get(SECRET_FIELD) or ""
            return secret or None
        values = {f.name: self.cleaned_data.get(config_field_name(spec.id, f.name)) or "" for f in spec.config_fields}
        return {name: value for name, value in values.items() if value} or None

    def _error_field(self, provider: str, exc: ServiceError) -> str | None:
        """The input an error of the service is about, when it names one that is on this form."""
        spec = spec_of(provider)
        if spec is None:
            return None
        name: str | None
        if not spec.requires_config:
            name = SECRET_FIELD if exc.code in _KEY_ERROR_CODES else None
        elif exc.code == "unsafe_url":
            urls = [f.name for f in spec.config_fields if f.kind is FieldKind.URL]
            name = config_field_name(spec.id, urls[0]) if urls else None
        else:
            field = exc.extra.get("field")
            name = config_field_name(spec.id, field) if isinstance(field, str) else None
        return name if name in self.fields else None

    def _add_missing_error(self, provider: str) -> None:
        spec = spec_of(provider)
        if spec is not None and not spec.requires_config:
            self.add_error(SECRET_FIELD, f"Enter the {spec.name} key.")
        elif spec is not None:
            self.add_error(None, f"Fill in the {spec.name} fields (under “{spec.name} credentials”).")

    @sensitive_variables("raw")
    def clean(self) -> dict[str, Any]:
        """Runs the one key service, so the admin refuses exactly what the API refuses."""
        data = super().clean() or {}
        if self.errors or self.request is None:
            return data
        actor = cast(User, self.request.user)
        instance = self.instance
        provider = instance.provider if instance.pk else data.get("provider", "")
        raw = self.credential(provider)
        try:
            if instance.pk is None:
                owner_user, org = data.get("owner_user"), data.get("organization")
                if (owner_user is None) == (org is None):
                    raise forms.ValidationError("Choose exactly one owner: a user or a group.")
                if raw is None:
                    self._add_missing_error(provider)
                    return data
                owner = KeyOwner(user=owner_user) if owner_user else KeyOwner(organization=org)
                self.result = services.provider_key_set(
                    actor=actor,
                    owner=owner,
                    provider=provider,
                    raw=raw,
                    name=data.get("name", ""),
                    description=data.get("description", ""),
                    allowed=self._allowed_users() if org else None,
                )
                self.checked_live = True
            elif raw is not None:
                owner = (
                    KeyOwner(user=instance.user) if instance.user_id else KeyOwner(organization=instance.organization)
                )
                self.result = services.provider_key_set(
                    actor=actor,
                    owner=owner,
                    provider=instance.provider,
                    raw=raw,
                    name=data.get("name", ""),
                    description=data.get("description", ""),
                    allowed=self._allowed_users() if instance.organization_id else None,
                )
                self.checked_live = True
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
            field = self._error_field(provider, exc)
            if field is None:
                raise forms.ValidationError(exc.message) from None
            self.add_error(field, exc.message)
        return data
