"""Writes for API tokens and provider keys. One way in: the API, the admin and the commands call these."""

from __future__ import annotations

import copy
import logging
import secrets as pysecrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from byok_keys import tokens, vault
from byok_keys.crypto import DecryptionError
from byok_keys.keyring import get_keyring
from byok_keys.models import ApiToken, ProviderKey
from common import hotcache
from common.errors import Conflict, InvalidInput
from common.metrics import KEY_STATUS_CHANGES
from common.text import check_display_text
from groups.audit import AuditEntry, audit_record, audit_record_many
from groups.models import Membership, Organization, User
from providers import http, ssrf, validation
from providers.base import Credential, CredentialFormatError
from providers.registry import UnknownProviderError, get_adapter_class
from providers.validation import KeyStatus, ValidationResult

logger = logging.getLogger("byok.keys")

# ---- API tokens -----------------------------------------------------------------------------

TOKEN_LAST_USED_RESOLUTION = timedelta(minutes=1)


@transaction.atomic
def api_token_create(
    *, user: User, name: str = "default", expires_at: datetime | None = None, actor: User | None = None
) -> tuple[ApiToken, str]:
    """Create a token; the plaintext is returned once and never stored."""
    name = check_display_text((name or "default").strip()[:100], field="name")
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput("The expiry must be in the future.", code="invalid_expiry")
    plaintext, lookup_id, digest = tokens.generate()
    token = ApiToken.objects.create(user=user, name=name, lookup_id=lookup_id, digest=digest, expires_at=expires_at)
    audit_record(
        actor=actor or user,
        action="token.created",
        target_type="api_token",
        target_id=token.prefix,
        details={"name": name, "user": user.username},
    )
    return token, plaintext


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: User | None) -> ApiToken:
    # Revocation is a timestamp set under a row lock, so it is idempotent under concurrency.
    locked = ApiToken.objects.select_for_update().get(pk=token.pk)
    if locked.revoked_at is None:
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="token.revoked",
            target_type="api_token",
            target_id=locked.prefix,
            details={"user": locked.user.username},
        )
    return locked


def api_token_authenticate(*, plaintext: str) -> ApiToken | None:
    """The live token for ``plaintext``, or None. Touches ``last_used_at`` at most once a minute."""
    lookup_id = tokens.parse_lookup_id(plaintext)
    if lookup_id is None:
        return None
    token = ApiToken.objects.select_related("user").filter(lookup_id=lookup_id).first()
    if token is None or not tokens.matches(plaintext, token.digest):
        return None
    now = timezone.now()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if token.last_used_at is None or now - token.last_used_at > TOKEN_LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# ---- API tokens on the hot path ---------------------------------------------------------------


@dataclass(frozen=True)
class TokenGrant:
    """What a live API token vouches for, as the gateway's in-process cache holds it: its user, until
    ``expires_at``. Never the token: the cache finds a grant by the token's SHA-256 digest.

    ``version`` is the cache version it was read at (``common.hotcache``; None with the cache off). A
    grant may predate a revocation made since on another process, so whoever acts on it checks that
    version first: the gateway's admission, in the round trip that counts the rate limits.
    """

    token_pk: int
    prefix: str
    digest: str
    user: User
    expires_at: datetime | None
    last_used_at: datetime | None
    version: int | None


_grants: hotcache.HotCache[TokenGrant] = hotcache.HotCache("api tokens")


def _grant(token: ApiToken | None, version: int | None) -> TokenGrant | None:
    if token is None or not token.user.is_active:
        return None
    return TokenGrant(
        token_pk=token.pk,
        prefix=token.prefix,
        digest=token.digest,
        user=token.user,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
        version=version,
    )


def _own_copy(grant: TokenGrant) -> TokenGrant:
    # The cached user is shared by concurrent requests; each request gets its own instance to annotate.
    return replace(grant, user=copy.copy(grant.user))


def api_token_grant(*, plaintext: str) -> TokenGrant | None:
    """``api_token_authenticate`` for the gateway's call endpoints, from the in-process cache: warm, no
    database round trip (``last_used_at`` is still touched at most once a minute). The grant may be
    stale (see ``TokenGrant``): only for callers that check its version before acting on it."""
    if not hotcache.enabled():
        return _grant(api_token_authenticate(plaintext=plaintext), None)
    digest = tokens.digest(plaintext)
    # Looked up by digest: an entry is found only with a token whose SHA-256 is that digest, so the
    # lookup's timing tells a guesser nothing (the database path compares digests in constant time).
    cached = _grants.get(digest)
    if cached is None:
        version = hotcache.tag()  # before reading: a tag is never newer than the rows under it
        grant = _grant(api_token_authenticate(plaintext=plaintext), version)
        if grant is not None:
            _grants.put(digest, grant, version)
        return _own_copy(grant) if grant is not None else None
    grant, version = cached
    now = timezone.now()
    if grant.expires_at is not None and grant.expires_at <= now:
        return None
    if grant.last_used_at is None or now - grant.last_used_at > TOKEN_LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=grant.token_pk).update(last_used_at=now)
        grant = replace(grant, last_used_at=now)
        _grants.put(digest, grant, version)
    return _own_copy(grant)


def api_token_grant_refresh(*, grant: TokenGrant) -> TokenGrant | None:
    """``grant`` read again from the database because the cache version moved on since it was read: None
    when its token was revoked, has expired or is gone, or its user was deactivated, meanwhile."""
    version = hotcache.tag()
    token = ApiToken.objects.select_related("user").filter(pk=grant.token_pk, digest=grant.digest).first()
    fresh = _grant(token, version) if token is not None and token.state == "active" else None
    if fresh is None:
        return None
    _grants.put(grant.digest, fresh, version)
    return _own_copy(fresh)


# ---- Provider keys --------------------------------------------------------------------------


def _audit_key(*, actor: User | None, action: str, key: ProviderKey, details: dict[str, object]) -> None:
    """An audit event about a provider key (never its secret); status changes are also counted."""
    if action == "key.status_changed" or action == "key.revoked":
        KEY_STATUS_CHANGES.labels(to=str(details.get("to", ProviderKey.Status.REVOKED))).inc()
    audit_record(
        actor=actor,
        action=action,
        target_type="provider_key",
        target_id=key.key_id,
        organization=key.organization,
        details=details,
    )


@dataclass(frozen=True)
class KeyOwner:
    """Exactly one of user / organization."""

    user: User | None = None
    organization: Organization | None = None

    def __post_init__(self) -> None:
        if (self.user is None) == (self.organization is None):
            raise ValueError("A key is owned by exactly one user or one group.")

    @property
    def kind(self) -> str:
        return "group" if self.organization is not None else "user"


@sensitive_variables("raw")
def provider_credential_parse(*, provider: str, raw: object) -> Credential:
    """Check the provider id and the credential's shape. Raises ``InvalidInput`` with a stable code."""
    try:
        adapter_cls = get_adapter_class(provider)
    except UnknownProviderError as exc:
        raise InvalidInput(str(exc), code="unknown_provider") from None
    if raw is None or raw == "":
        raise InvalidInput(
            'apiKey is required: send {"apiKey": "<your provider key>"}'
            + (" (for this provider an object of its config fields)." if adapter_cls.spec.requires_config else "."),
            code="missing_api_key",
        )
    try:
        return adapter_cls.parse_credential(raw)
    except CredentialFormatError as exc:
        raise InvalidInput(exc.message, code=exc.code, extra={"field": exc.field} if exc.field else None) from None


def _new_key_id(*, owner: KeyOwner, provider: str) -> str:
    return f"byok_{owner.kind}_{provider}_{pysecrets.token_hex(8)}"


@dataclass(frozen=True)
class AllowedUsers:
    """Who may use a group key: every accepted member (``usernames is None``), or the named ones."""

    usernames: tuple[str, ...] | None = None

    @classmethod
    def parse(cls, raw: object) -> AllowedUsers:
        """The API's ``allowedUsers``: ``"all"`` or a list of member usernames."""
        if raw == "all":
            return cls()
        if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
            raise InvalidInput(
                'allowedUsers must be "all" or a list of member usernames, e.g. ["alice", "bob"].',
                code="invalid_allowed_users",
            )
        return cls(tuple(sorted(set(raw))))


def _allowed_members(*, organization: Organization, allowed: AllowedUsers) -> list[User] | None:
    """The users ``allowed`` names, checked to be accepted members; None for every member."""
    if allowed.usernames is None:
        return None
    wanted = list(allowed.usernames)
    members = {
        m.user.username: m.user
        for m in Membership.objects.active()
        .filter(organization=organization, user__username__in=wanted)
        .select_related("user")
    }
    missing = [name for name in wanted if name not in members]
    invited = sorted(
        Membership.objects.filter(
            organization=organization, user__username__in=missing, accepted_at__isnull=True
        ).values_list("user__username", flat=True)
    )
    if invited:
        raise InvalidInput(
            f"allowedUsers names users who were invited to '{organization.slug}' but have not accepted yet: "
            f"{', '.join(invited)}. They can be allowed once they join.",
            code="allowed_user_not_accepted",
        )
    if missing:
        raise InvalidInput(
            f"allowedUsers names users who are not members of '{organization.slug}': {', '.join(missing)}. "
            "Add them to the group first.",
            code="allowed_user_not_member",
        )
    return [members[name] for name in wanted]


def _sharing_details(allowed: list[User] | None) -> dict[str, object]:
    return {"allowedUsers": "all" if allowed is None else [u.username for u in allowed]}


@dataclass(frozen=True)
class KeyValidation:
    """What live validation said about a credential about to be stored."""

    status: str = ProviderKey.Status.UNVERIFIED
    reason: str = ""
    validated_at: datetime | None = None


def _lock_current_key(*, owner: KeyOwner, provider: str) -> ProviderKey | None:
    return (
        ProviderKey.objects.select_for_update()
        .filter(user=owner.user, organization=owner.organization, provider=provider)
        .first()
    )


@sensitive_variables("credential")
def _refuse_revoked_secret(*, current: ProviderKey | None, provider: str, credential: Credential) -> None:
    """A secret an administrator revoked is never stored again (compared by fingerprint, not decrypted)."""
    revoked = current is not None and current.status == ProviderKey.Status.REVOKED
    if revoked and current is not None and vault.is_same_secret(current, credential):
        raise Conflict(
            f"This {provider} key was revoked by an administrator and cannot be stored again; create a new key "
            "with the provider.",
            code="key_revoked",
        )


def _save_new_row(key: ProviderKey, *, provider: str) -> None:
    try:
        with transaction.atomic():
            key.save()
    except IntegrityError:
        raise Conflict(
            f"Another request stored a {provider} key for this owner at the same time; try again.",
            code="concurrent_update",
        ) from None


@sensitive_variables("credential")
@transaction.atomic
def provider_key_store(
    *,
    actor: User,
    owner: KeyOwner,
    provider: str,
    credential: Credential,
    name: str = "",
    description: str = "",
    allowed: AllowedUsers | None = None,
    validation: KeyValidation = KeyValidation(),
) -> tuple[ProviderKey, bool]:
    """Store (or replace) the owner's key for ``provider``. Returns (key, created).

    The credential must already have been parsed by ``provider_credential_parse`` (and checked live,
    outside any transaction, where the provider allows it). ``allowed`` (group keys) None means: every
    member for a new key, unchanged for a replaced one — a new secret must not silently widen access.
    """
    adapter_cls = get_adapter_class(provider)
    current = _lock_current_key(owner=owner, provider=provider)
    _refuse_revoked_secret(current=current, provider=provider, credential=credential)
    change_sharing = owner.organization is not None and (current is None or allowed is not None)
    members = (
        _allowed_members(organization=owner.organization, allowed=allowed or AllowedUsers())
        if change_sharing and owner.organization is not None
        else None
    )
    previous_key_id = current.key_id if current else None
    key = current or ProviderKey(user=owner.user, organization=owner.organization, provider=provider, created_by=actor)
    key.key_id = _new_key_id(owner=owner, provider=provider)  # a new secret gets a new keyId
    key.name = check_display_text((name or "").strip()[:200], field="name") or f"{adapter_cls.spec.name} key"
    key.description = check_display_text((description or "").strip()[:2000], field="description", allow_newlines=True)
    key.last4 = adapter_cls.last4(credential)
    key.status = validation.status
    key.status_reason = validation.reason[:300]
    key.last_validated_at = validation.validated_at
    key.invalid_checks = 1 if validation.status == ProviderKey.Status.INVALID else 0
    if change_sharing:
        key.allow_all_members = members is None
    vault.seal_credential(key, credential)
    _save_new_row(key, provider=provider)
    if change_sharing:
        key.allowed_users.set(members or [])
    _audit_key(
        actor=actor,
        action="key.replaced" if current else "key.created",
        key=key,
        details={
            "provider": provider,
            "owner": key.owner_label,
            "last4": key.last4,
            "status": key.status,
            **({"previousKeyId": previous_key_id} if previous_key_id else {}),
            **(_sharing_details(members) if change_sharing else {}),
        },
    )
    return key, current is None


def group_keys_forget_member(*, organization: Organization, user: User) -> None:
    """Take a departing member off every ``allowedUsers`` list of the group's keys."""
    for key in ProviderKey.objects.filter(organization=organization, allowed_users=user):
        key.allowed_users.remove(user)


@transaction.atomic
def provider_key_revoke(*, actor: User, key: ProviderKey) -> ProviderKey:
    """Take a key out of service without deleting it (kept for the record; skipped when resolving)."""
    locked = ProviderKey.objects.select_for_update().get(pk=key.pk)
    if locked.status != ProviderKey.Status.REVOKED:
        previous = locked.status
        locked.status = ProviderKey.Status.REVOKED
        locked.status_reason = f"Revoked by {actor.username}."
        locked.save(update_fields=["status", "status_reason", "updated_at"])
        _audit_key(
            actor=actor,
            action="key.revoked",
            key=locked,
            details={"from": previous},
        )
    return locked


@transaction.atomic
def provider_key_delete(*, actor: User, key: ProviderKey) -> None:
    # The row first, the audit event last: appending to the audit chain locks its head until commit,
    # so it comes after the transaction's last row lock (no deadlock with a concurrent key update).
    organization = key.organization
    key.delete()
    key.organization = organization
    _audit_key(
        actor=actor,
        action="key.deleted",
        key=key,
        details={"provider": key.provider, "last4": key.last4},
    )


@transaction.atomic
def provider_key_record_validation(
    *, key: ProviderKey, result: ValidationResult, actor: User | None, strikes_to_invalidate: int = 1
) -> ProviderKey:
    """Record a live validation of a stored key.

    - ``unverified`` (network trouble, 5xx, 429) changes nothing: nothing was learnt about the key;
    - ``invalid`` marks the key invalid once ``strikes_to_invalidate`` checks in a row found it invalid
      (the scheduled revalidation uses 2, so one glitch never disables a key);
    - any other result is stored with the time of the check.
    Every status change is an audit event.
    """
    locked = ProviderKey.objects.select_for_update().filter(pk=key.pk).first()
    if locked is None:  # deleted meanwhile
        return key
    if locked.key_id != key.key_id:
        # The secret was replaced while it was being checked: the verdict is about the old one.
        return locked
    if result.status is KeyStatus.UNVERIFIED or locked.status == ProviderKey.Status.REVOKED:
        # Nothing learnt; or revoked by an administrator, which only an administrator undoes.
        return locked
    previous = locked.status
    now = timezone.now()
    if result.status is KeyStatus.INVALID:
        locked.invalid_checks += 1
        if locked.invalid_checks >= strikes_to_invalidate:
            locked.status = ProviderKey.Status.INVALID
            locked.status_reason = result.reason[:300]
        else:
            locked.status_reason = (
                f"A check found the key invalid ({result.reason}) It becomes invalid if the next check agrees."
            )[:300]
    else:
        locked.invalid_checks = 0
        locked.status = result.status.value
        locked.status_reason = result.reason[:300]
    locked.last_validated_at = now
    locked.save(update_fields=["status", "status_reason", "invalid_checks", "last_validated_at", "updated_at"])
    if previous != locked.status:
        _audit_key(
            actor=actor,
            action="key.status_changed",
            key=locked,
            details={"from": previous, "to": locked.status, "reason": result.reason[:300]},
        )
    return locked


def credential_validate(*, provider: str, credential: Credential) -> ValidationResult:
    """Check a parsed credential live (no transaction may be open: this calls the provider).

    A user-supplied URL that the SSRF guard refuses is a 400 ``unsafe_url`` that says why.
    """
    adapter = vault.adapter_for_credential(provider, credential)
    try:
        if adapter.url_from_user:
            ssrf.check_url(adapter.base_url(), allow_http=bool(adapter.spec.extra.get("allow_http")))
        return validation.validate(adapter)
    except (ssrf.UnsafeURLError, http.UnsafeDestination) as exc:
        raise InvalidInput(str(exc), code="unsafe_url") from None


UNDECRYPTABLE_REASON = (
    "This key cannot be decrypted with the server's master keys; an operator must restore the master key "
    "that sealed it (BYOK_PREVIOUS_ENCRYPTION_KEYS), or store the key again."
)


@transaction.atomic
def provider_key_mark_undecryptable(*, key: ProviderKey) -> None:
    """A stored secret that cannot be opened: mark it once (audited) so resolution skips it and its owner
    sees why; the detail (which master key) stays in the operator's log."""
    locked = ProviderKey.objects.select_for_update().filter(pk=key.pk).first()
    if locked is None or locked.key_id != key.key_id or locked.status == ProviderKey.Status.UNDECRYPTABLE:
        return
    previous = locked.status
    locked.status = ProviderKey.Status.UNDECRYPTABLE
    locked.status_reason = UNDECRYPTABLE_REASON
    locked.save(update_fields=["status", "status_reason", "updated_at"])
    _audit_key(actor=None, action="key.status_changed", key=locked, details={"from": previous, "to": locked.status})


def stored_key_validate(*, key: ProviderKey) -> ValidationResult:
    """Validate a stored key live without recording anything (no transaction may be open)."""
    try:
        adapter = vault.adapter_for_key(key)
    except DecryptionError:
        # Not the provider's verdict: the master key configuration is wrong. The key is marked
        # undecryptable; the detail (which master key) goes to the operator's log, not the answer.
        logger.exception("cannot decrypt %s", key.key_id)
        provider_key_mark_undecryptable(key=key)
        return ValidationResult(
            KeyStatus.UNVERIFIED, "The stored key could not be decrypted; an operator must check the master keys."
        )
    try:
        return validation.validate(adapter)
    except http.UnsafeDestination as exc:
        # The stored URL is no longer allowed (the policy changed): the key cannot be used.
        return ValidationResult(KeyStatus.INVALID, str(exc))


def provider_key_validate(*, key: ProviderKey, actor: User | None, strikes_to_invalidate: int = 1) -> ValidationResult:
    """Validate a stored key live and record the result."""
    result = stored_key_validate(key=key)
    provider_key_record_validation(key=key, result=result, actor=actor, strikes_to_invalidate=strikes_to_invalidate)
    return result


@dataclass(frozen=True)
class KeyTestOutcome:
    """A key test: what the provider said, and (for a stored key) the key as it is now."""

    provider: str
    result: ValidationResult
    key: ProviderKey | None = None


@sensitive_variables("raw", "credential")
def key_test(*, actor: User, provider: str, raw: object, stored: Callable[[], ProviderKey]) -> KeyTestOutcome:
    """Test ``raw`` (a key sent for testing; nothing is stored) or, when it is empty, the stored key
    ``stored()`` returns, recording the result on it."""
    if raw not in (None, ""):
        credential = provider_credential_parse(provider=provider, raw=raw)
        return KeyTestOutcome(provider, credential_validate(provider=provider, credential=credential))
    key = stored()
    result = provider_key_validate(key=key, actor=actor)
    key.refresh_from_db()
    # Every test a person asks for is in the audit trail (a status change has its own event too).
    _audit_key(actor=actor, action="key.tested", key=key, details={"result": result.status.value})
    return KeyTestOutcome(provider, result, key)


@dataclass(frozen=True)
class KeySetResult:
    key: ProviderKey
    created: bool
    warning: str | None = None


@sensitive_variables("raw", "credential")
def provider_key_set(
    *,
    actor: User,
    owner: KeyOwner,
    provider: str,
    raw: object,
    name: str = "",
    description: str = "",
    allowed: AllowedUsers | None = None,
) -> KeySetResult:
    """Parse, check and store a key: the path shared by the API, the admin and the commands.

    Nothing is written when any step refuses the key, so an existing key stays as it was.
    """
    check_display_text(name or "", field="name")
    check_display_text(description or "", field="description", allow_newlines=True)
    credential = provider_credential_parse(provider=provider, raw=raw)
    if owner.organization is not None:
        # Check allowedUsers before calling the provider, so a bad list costs nothing.
        _allowed_members(organization=owner.organization, allowed=allowed or AllowedUsers())
    result = credential_validate(provider=provider, credential=credential)
    if result.status is KeyStatus.INVALID:
        raise InvalidInput(
            f"{get_adapter_class(provider).spec.name} rejected this key: {result.reason} Nothing was stored.",
            code="invalid_key",
            extra={"status": result.status.value, "reason": result.reason},
        )
    key, created = provider_key_store(
        actor=actor,
        owner=owner,
        provider=provider,
        credential=credential,
        name=name,
        description=description,
        allowed=allowed,
        validation=KeyValidation(
            status=result.status.value,
            reason=result.reason,
            validated_at=None if result.status is KeyStatus.UNVERIFIED else timezone.now(),
        ),
    )
    warning = None
    if result.status is KeyStatus.UNVERIFIED:
        warning = f"The key was stored but could not be verified: {result.reason}"
    return KeySetResult(key=key, created=created, warning=warning)


@transaction.atomic
def provider_key_update_metadata(
    *,
    actor: User,
    key: ProviderKey,
    name: str | None = None,
    description: str | None = None,
    allowed: AllowedUsers | None = None,
) -> ProviderKey:
    """Change a key's name, description and (group keys) who may use it, without touching the secret.
    ``None`` (or a blank name) leaves a value as it is."""
    locked = ProviderKey.objects.select_for_update().get(pk=key.pk)
    fields = ["updated_at"]
    details: dict[str, object] = {}
    if name is not None and name.strip():  # a blank name keeps the current one
        locked.name = check_display_text(name.strip()[:200], field="name")
        fields.append("name")
        details["name"] = locked.name
    if description is not None:
        locked.description = check_display_text(description.strip()[:2000], field="description", allow_newlines=True)
        fields.append("description")
        details["description"] = "changed"
    members: list[User] | None = None
    change_sharing = allowed is not None and locked.organization is not None
    if change_sharing and locked.organization is not None and allowed is not None:
        members = _allowed_members(organization=locked.organization, allowed=allowed)
        locked.allow_all_members = members is None
        fields.append("allow_all_members")
        details.update(_sharing_details(members))
    locked.save(update_fields=fields)
    if change_sharing:
        locked.allowed_users.set(members or [])
    _audit_key(actor=actor, action="key.updated", key=locked, details=details)
    return locked


# What a reseal reads of a key: its identity (bound into the ciphertext), the secret and the status.
RESEAL_FIELDS = ("key_id", "user_id", "organization_id", "provider", "sealed_secret", "secret_fingerprint", "status")


@dataclass(frozen=True)
class ResealOutcome:
    """What ``provider_keys_reseal`` did to one batch: how many keys it re-sealed, and the keys that the
    configured master keys cannot open (left for ``provider_key_mark_undecryptable``)."""

    resealed: int
    undecryptable: list[ProviderKey]


def _write_sealed_secrets(keys: list[ProviderKey]) -> None:
    """Write the batch's new sealed secrets in one statement on PostgreSQL (an UPDATE joined to the
    new values, unnested from arrays), one pipelined ``executemany`` elsewhere. ``bulk_update`` would
    build a CASE expression over the whole batch per column: most of a reseal's time went there, and
    the database's too."""
    meta = ProviderKey._meta
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    sealed, fingerprint = quote("sealed_secret"), quote("secret_fingerprint")  # the fields' own column names
    # Only the table's and columns' own names are formatted into the SQL; every value is a parameter.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET {sealed} = v.sealed, {fingerprint} = v.fingerprint "  # noqa: S608  # nosec B608
                f"FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, sealed, fingerprint) "
                f"WHERE {table}.{pk} = v.id",
                [[k.pk for k in keys], [k.sealed_secret for k in keys], [k.secret_fingerprint for k in keys]],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET {sealed} = %s, {fingerprint} = %s WHERE {pk} = %s",  # noqa: S608  # nosec B608
                [(key.sealed_secret, key.secret_fingerprint, key.pk) for key in keys],
            )


@transaction.atomic
def provider_keys_reseal(*, key_ids: list[int]) -> ResealOutcome:
    """Re-encrypt a batch of keys under the current primary master key (finishing a rotation). The
    secrets are unchanged, so keyIds and statuses stay (an undecryptable key that opens again becomes
    unverified). Keys already on the primary key are skipped.

    One transaction per batch: the rows are locked together (a concurrent replacement waits for the
    batch, then finds its row re-sealed), written back with one UPDATE per kind of change, and audited
    (``key.resealed``, one event per key) with one append to the chain, after the row locks."""
    locked = list(
        ProviderKey.objects.select_for_update(of=("self",))
        .select_related("organization")
        .only(*RESEAL_FIELDS, "organization__slug")
        .filter(pk__in=key_ids)
        .order_by("pk")
    )
    resealed: list[ProviderKey] = []
    restored: list[ProviderKey] = []
    undecryptable: list[ProviderKey] = []
    now = timezone.now()
    for key in locked:
        try:
            if not vault.reseal(key):
                continue
        except DecryptionError:
            undecryptable.append(key)
            continue
        if key.status == ProviderKey.Status.UNDECRYPTABLE:
            # It opened: the master keys are right again. Unverified until its next test.
            key.status = ProviderKey.Status.UNVERIFIED
            key.status_reason = "Readable again after a master-key fix; test it to confirm it still works."
            key.updated_at = now
            restored.append(key)
        else:
            resealed.append(key)
    if resealed:
        _write_sealed_secrets(resealed)
    if restored:
        ProviderKey.objects.bulk_update(
            restored, ["sealed_secret", "secret_fingerprint", "status", "status_reason", "updated_at"]
        )
    changed = sorted(resealed + restored, key=lambda key: key.pk)
    master = get_keyring().primary_id
    audit_record_many(
        actor=None,
        entries=[
            AuditEntry(
                action="key.resealed",
                target_type="provider_key",
                target_id=key.key_id,
                organization=key.organization,
                details={"masterKey": master},
            )
            for key in changed
        ],
    )
    return ResealOutcome(resealed=len(changed), undecryptable=undecryptable)
