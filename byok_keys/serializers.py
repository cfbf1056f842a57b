"""The vault's JSON: input serializers parse requests, output serializers render responses and
describe them in the OpenAPI schema (one declaration for both)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from byok_keys.services import AllowedUsers
from common.serializers import DisplayTextField, Envelope, IsoDateTime, StrictInput

# ---- input ----------------------------------------------------------------------------------


class KeyInput(serializers.Serializer):
    apiKey = serializers.JSONField(required=False, help_text="The key, or an object of config fields.")
    name = DisplayTextField(required=False, allow_blank=True, max_length=200)
    description = DisplayTextField(multiline=True, required=False, allow_blank=True, max_length=2000)


class GroupKeyInput(KeyInput):
    allowedUsers = serializers.JSONField(required=False, help_text='"all" (default) or a list of member usernames.')

    def validate_allowedUsers(self, value: object) -> AllowedUsers:
        """Parsed once here: services take an ``AllowedUsers``, never the raw JSON."""
        return AllowedUsers.parse(value)


class KeyTestInput(serializers.Serializer):
    apiKey = serializers.JSONField(
        required=False, help_text="Test this key without storing it; omit to test the stored key."
    )


class KeyMetadataInput(StrictInput):
    """``PATCH`` of a key: metadata only, never a new secret (that is a ``POST``)."""

    name = DisplayTextField(required=False, min_length=1, max_length=200, help_text="a name you will recognise")
    description = DisplayTextField(multiline=True, required=False, allow_blank=True, max_length=2000)


class GroupKeyMetadataInput(KeyMetadataInput):
    allowedUsers = serializers.JSONField(required=False, help_text='"all" or a list of member usernames.')

    def validate_allowedUsers(self, value: object) -> AllowedUsers:
        return AllowedUsers.parse(value)


class TokenInput(StrictInput):
    name = DisplayTextField(min_length=1, max_length=100, help_text="what the token is for, e.g. laptop or ci")
    expiresAt = serializers.DateTimeField(required=False, allow_null=True, help_text="ISO 8601; empty: no expiry")


# ---- output ---------------------------------------------------------------------------------


class ConfigFieldSerializer(serializers.Serializer):
    name = serializers.CharField()
    # ``label`` and ``required`` are also attributes of a DRF field; declared fields are taken out of
    # the class by DRF's metaclass, so these names are safe in the JSON.
    label = serializers.CharField()  # type: ignore[assignment]
    kind = serializers.CharField(help_text="secret, url, text or region")
    required = serializers.BooleanField()  # type: ignore[assignment]
    pattern = serializers.CharField(allow_null=True)
    hint = serializers.CharField()


class ProviderSerializer(serializers.Serializer):
    """One entry of the public provider list (no secrets, no operator settings but variable names)."""

    id = serializers.CharField(source="spec.id")
    name = serializers.CharField(source="spec.name")
    requiresConfig = serializers.BooleanField(source="spec.requires_config")
    configFields = ConfigFieldSerializer(source="spec.config_fields", many=True)
    keyHint = serializers.CharField(source="spec.key_hint")
    keyPattern = serializers.CharField(
        source="spec.key_pattern",
        allow_null=True,
        help_text="null where no format is known: the server then only checks for 16-512 non-space characters.",
    )
    status = serializers.CharField(source="spec.status.value", help_text="active, legacy or discontinued")
    statusDate = serializers.CharField(source="spec.status_date", allow_null=True)
    statusNote = serializers.CharField(source="spec.status_note")
    docsUrl = serializers.CharField(source="spec.docs_url")
    authStyle = serializers.CharField(source="spec.auth_style.value")
    validationBilled = serializers.BooleanField(source="spec.validation_billed")
    exampleModels = serializers.ListField(source="spec.example_models", child=serializers.CharField())
    envVar = serializers.CharField(source="spec.env_var", allow_null=True, help_text="where the system key goes")
    envConfig = serializers.SerializerMethodField(help_text="config field -> environment variable")
    baseUrlEnvVar = serializers.CharField(source="spec.env_base_url_var")

    def get_envConfig(self, adapter_cls: Any) -> dict[str, str]:
        return dict(adapter_cls.spec.env_config)


class ProvidersSerializer(Envelope):
    providers = ProviderSerializer(many=True)


class KeySerializer(serializers.Serializer):
    """A key's metadata; never its secret. Takes a ``selectors.KeyListing``."""

    keyId = serializers.CharField(source="key.key_id")
    provider = serializers.CharField(source="key.provider")
    name = serializers.CharField(source="key.name")
    description = serializers.CharField(source="key.description")
    last4 = serializers.CharField(source="key.last4")
    status = serializers.CharField(source="key.status")
    statusReason = serializers.CharField(source="key.status_reason")
    createdAt = IsoDateTime(source="key.created_at")
    updatedAt = IsoDateTime(source="key.updated_at")
    lastUsedAt = IsoDateTime(source="key.current_last_used_at", allow_null=True)
    lastValidatedAt = IsoDateTime(source="key.last_validated_at", allow_null=True)
    usageCount = serializers.IntegerField(source="key.current_usage_count")


class GroupKeySerializer(KeySerializer):
    """A group key's metadata, with who may use it."""

    groupId = serializers.CharField(source="key.organization.slug")
    allowedUsers = serializers.JSONField(source="allowed_users", help_text='"all" or a list of usernames')


class MyGroupKeySerializer(GroupKeySerializer):
    usableByMe = serializers.BooleanField(source="usable_by_me")


class ProviderAvailabilitySerializer(serializers.Serializer):
    provider = serializers.CharField()
    name = serializers.CharField()
    hasUserKey = serializers.BooleanField(source="has_user_key")
    hasGroupKey = serializers.BooleanField(source="has_group_key")


class KeysOverviewSerializer(Envelope):
    userId = serializers.CharField(source="user.username")
    groupId = serializers.CharField(source="default_group.slug", allow_null=True, default=None)
    groups = serializers.SerializerMethodField(help_text="ids of the groups you have joined")
    providers = ProviderAvailabilitySerializer(many=True)
    keys = KeySerializer(many=True)
    groupKeys = MyGroupKeySerializer(source="group_keys", many=True)

    def get_groups(self, overview: Any) -> list[str]:
        return [org.slug for org in overview.groups]


class KeySavedSerializer(Envelope):
    """Takes a ``services.KeySetResult``."""

    keyId = serializers.CharField(source="key.key_id")
    provider = serializers.CharField(source="key.provider")
    status = serializers.CharField(source="key.status")
    last4 = serializers.CharField(source="key.last4")
    reason = serializers.CharField(source="key.status_reason", required=False, help_text="why this status")
    warning = serializers.CharField(required=False, help_text="set when the key could not be verified")

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if not data.get("reason"):
            data.pop("reason", None)
        if not data.get("warning"):
            data.pop("warning", None)
        return data


class KeyTestedSerializer(Envelope):
    """Takes a ``services.KeyTestOutcome``."""

    provider = serializers.CharField()
    status = serializers.CharField(source="result.status.value", help_text="what the provider said about the key")
    reason = serializers.CharField(source="result.reason")
    retryAfter = serializers.IntegerField(source="result.retry_after", required=False)
    keyId = serializers.CharField(source="key.key_id", required=False, help_text="stored keys only")
    keyStatus = serializers.CharField(source="key.status", required=False, help_text="the stored key's status now")
    lastValidatedAt = IsoDateTime(source="key.last_validated_at", required=False, allow_null=True)

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(instance)
        if instance.result.retry_after is None:
            data.pop("retryAfter", None)
        if instance.key is None:
            for name in ("keyId", "keyStatus", "lastValidatedAt"):
                data.pop(name, None)
        return data


class MemberSerializer(serializers.Serializer):
    userId = serializers.CharField(source="user.username")
    role = serializers.CharField()
    status = serializers.SerializerMethodField(help_text="active or invited")
    joinedAt = IsoDateTime(source="accepted_at", allow_null=True)

    def get_status(self, membership: Any) -> str:
        return "active" if membership.is_active else "invited"


class GroupDetailBodySerializer(serializers.Serializer):
    id = serializers.CharField(source="organization.slug")
    name = serializers.CharField(source="organization.name")
    createdAt = IsoDateTime(source="organization.created_at")
    members = MemberSerializer(many=True)
    keys = GroupKeySerializer(many=True)


class GroupDetailSerializer(Envelope):
    group = GroupDetailBodySerializer(source="*")


class KeyUpdatedSerializer(Envelope):
    """Takes a ``selectors.KeyListing`` of the updated key."""

    key = KeySerializer(source="*")


class GroupKeyUpdatedSerializer(Envelope):
    key = GroupKeySerializer(source="*")


class TokenSerializer(serializers.Serializer):
    """One of the caller's API tokens (never the token itself: it is shown once, when created)."""

    tokenId = serializers.CharField(source="prefix", help_text="byokt_<lookup id>, not a secret")
    name = serializers.CharField()
    createdAt = IsoDateTime(source="created_at")
    lastUsedAt = IsoDateTime(source="last_used_at", allow_null=True)
    expiresAt = IsoDateTime(source="expires_at", allow_null=True)
    revokedAt = IsoDateTime(source="revoked_at", allow_null=True)
    status = serializers.SerializerMethodField(help_text="active, expired or revoked")

    def get_status(self, token: Any) -> str:
        return token.state


class TokensSerializer(Envelope):
    tokens = TokenSerializer(many=True)


class TokenCreatedSerializer(Envelope):
    """Takes ``(token, plaintext)``: the plaintext is in this answer and nowhere else, ever."""

    tokenId = serializers.CharField(help_text="byokt_<lookup id>")
    token = serializers.CharField(help_text="the token itself: shown this once, store it now")
    name = serializers.CharField()
    expiresAt = IsoDateTime(allow_null=True)
