"""The writes of ``byok_import_legacy``: a decrypted legacy store (``byok_keys.legacy``) brought into this
service in one transaction, all or nothing.

The rules (the README's "Migrating from the Node.js store" tells operators):
- A legacy user id becomes a username: a new user without a usable password, or the existing account
  ``user_map`` names. An existing account is never taken over because its name matches: it is mapped
  explicitly, or the import stops.
- A legacy group id becomes a group id. A group of that id that no earlier import created stops it.
- ``accessControl`` members become accepted members (they were members). The legacy store had no roles:
  the members who shared one of the group's keys (``sharedBy``) become owners, or else the first member
  listed; everyone else is a member. The wildcard member ``"*"`` is reported, not imported.
- Keys are sealed by ``vault.seal_credential`` with their names, descriptions, dates and usage counts,
  status ``unverified`` (nothing is sent to a provider during an import). A group key's
  ``allowedUsers`` keeps the users who are members; any other name is reported and dropped.
- Everything imported is written to the audit log (``user.imported``, ``group.imported``,
  ``membership.imported``, ``key.imported`` with the legacy keyId, and one ``legacy.imported`` per run),
  and that record is what makes a second run import nothing new: a legacy key, membership or user
  imported once is never imported again, even if it was deleted or replaced here since.
- An owner who already has a key for the provider: the same secret is skipped ("already present"); a
  different one stops the import (never overwritten).
"""

from __future__ import annotations

import re
import secrets as pysecrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from byok_keys import vault
from byok_keys.legacy import LegacyKey, LegacyStore, Progress, RecordRef, no_progress
from byok_keys.models import ProviderKey
from common.errors import Conflict, InvalidInput
from groups.audit import audit_record
from groups.models import AuditEvent, Membership, Organization, User
from providers.registry import get_adapter_class

USER_IMPORTED = "user.imported"
GROUP_IMPORTED = "group.imported"
MEMBERSHIP_IMPORTED = "membership.imported"
KEY_IMPORTED = "key.imported"
STORE_IMPORTED = "legacy.imported"

# The same rule as groups.services.group_create.
_GROUP_ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
IMPORTED_STATUS_REASON = "Imported from the legacy store; not checked with the provider yet."


@dataclass
class ImportReport:
    """What an import did (or, in a dry run, would do). Ids and names only, never a secret."""

    source: str
    dry_run: bool
    users_created: list[str] = field(default_factory=list)
    users_mapped: list[tuple[str, str]] = field(default_factory=list)  # (legacy id, username)
    users_known: list[str] = field(default_factory=list)  # legacy ids an earlier import brought in
    groups_created: list[str] = field(default_factory=list)
    groups_known: list[str] = field(default_factory=list)
    memberships_created: list[tuple[str, str, str]] = field(default_factory=list)  # (group, username, role)
    memberships_known: int = 0
    user_keys: list[str] = field(default_factory=list)  # legacy keyIds
    group_keys: list[str] = field(default_factory=list)
    keys_already_imported: list[str] = field(default_factory=list)
    keys_already_present: list[str] = field(default_factory=list)  # the owner has the same secret here
    allowed_users_dropped: list[tuple[str, str]] = field(default_factory=list)  # (legacy keyId, legacy id)
    groups_without_members: list[str] = field(default_factory=list)
    keys_without_metadata: list[str] = field(default_factory=list)
    orphaned_metadata: list[str] = field(default_factory=list)
    wildcard_groups: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "usersCreated": len(self.users_created),
            "usersMapped": len(self.users_mapped),
            "groupsCreated": len(self.groups_created),
            "memberships": len(self.memberships_created),
            "userKeys": len(self.user_keys),
            "groupKeys": len(self.group_keys),
            "alreadyImported": len(self.keys_already_imported),
            "alreadyPresent": len(self.keys_already_present),
            "allowedUsersDropped": len(self.allowed_users_dropped),
            "orphanedMetadata": len(self.orphaned_metadata),
            "wildcardGroups": len(self.wildcard_groups),
        }


@sensitive_variables("store")
def legacy_store_import(
    *,
    store: LegacyStore,
    user_map: Mapping[str, str],
    source: str,
    dry_run: bool = False,
    progress: Progress = no_progress,
) -> ImportReport:
    """Import ``store`` (already decrypted and checked), or in a dry run only work out what would be done.

    Every check runs before the first write, and the writes share one transaction: on any error nothing
    is written. Raises ``InvalidInput`` or ``Conflict`` naming the user, group or record at fault.
    """
    report = ImportReport(
        source=source,
        dry_run=dry_run,
        orphaned_metadata=list(store.orphaned_metadata),
        wildcard_groups=list(store.wildcard_groups),
    )
    try:
        with transaction.atomic():
            plan = _Plan(store=store, user_map=user_map, report=report)
            if not dry_run:
                plan.apply(progress=progress)
    except IntegrityError:
        raise Conflict(
            "Users, groups or keys changed while importing; nothing was imported. Run the command again.",
            code="concurrent_update",
        ) from None
    return report


@dataclass(frozen=True)
class _Ledger:
    """What earlier imports brought in, read from their audit events."""

    users: dict[str, str]  # legacy user id -> username
    groups: set[str]
    memberships: set[str]  # "<group>/<username>"
    key_ids: set[str]  # legacy keyIds

    @classmethod
    def read(cls) -> _Ledger:
        ledger = cls(users={}, groups=set(), memberships=set(), key_ids=set())
        events = AuditEvent.objects.filter(
            action__in=[USER_IMPORTED, GROUP_IMPORTED, MEMBERSHIP_IMPORTED, KEY_IMPORTED]
        ).order_by("pk")
        for action, target_id, details in events.values_list("action", "target_id", "details"):
            legacy_id = details.get("legacyId") if isinstance(details, dict) else None
            if action == USER_IMPORTED and isinstance(legacy_id, str):
                ledger.users[legacy_id] = target_id
            elif action == GROUP_IMPORTED:
                ledger.groups.add(target_id)
            elif action == MEMBERSHIP_IMPORTED:
                ledger.memberships.add(target_id)
            elif action == KEY_IMPORTED and isinstance(details, dict):
                ledger.key_ids.add(str(details.get("legacyKeyId")))
        return ledger


@dataclass
class _NewKey:
    legacy: LegacyKey = field(repr=False)
    user: User | None
    organization: Organization | None
    allowed: list[User] | None  # group keys: None = every member


class _Plan:
    """Works out every write and checks it against the database before anything is written."""

    def __init__(self, *, store: LegacyStore, user_map: Mapping[str, str], report: ImportReport) -> None:
        self.store = store
        self.user_map = dict(user_map)
        self.report = report
        self.ledger = _Ledger.read()
        self.users: dict[str, User] = {}  # legacy id -> user (unsaved when new)
        self.new_users: list[tuple[str, User]] = []
        self.new_mappings: list[tuple[str, User]] = []
        self.groups: dict[str, Organization] = {}  # legacy id -> group (unsaved when new)
        self.new_groups: list[Organization] = []
        self.new_memberships: list[tuple[Organization, User, str]] = []
        self.active_members: dict[str, set[str]] = {}  # group id -> usernames of accepted members, after import
        self.new_keys: list[_NewKey] = []
        self._plan_users()
        self._plan_groups()
        self._plan_memberships()
        self._plan_keys()

    # ---- users ----------------------------------------------------------------------------------
    def _plan_users(self) -> None:
        legacy_ids = self.store.user_ids()
        unknown = sorted(set(self.user_map) - set(legacy_ids))
        if unknown:
            raise InvalidInput(
                f"--user-map names legacy user id(s) the store does not have: {', '.join(unknown)}.",
                code="legacy_user_map_unknown_id",
            )
        wanted = set(legacy_ids) | set(self.user_map.values()) | set(self.ledger.users.values())
        existing = {user.username: user for user in User.objects.filter(username__in=wanted)}
        for legacy_id in legacy_ids:
            if legacy_id in self.user_map:
                self._map_user(legacy_id, self.user_map[legacy_id], existing)
            elif legacy_id in self.ledger.users:
                username = self.ledger.users[legacy_id]
                if username not in existing:
                    raise InvalidInput(
                        f"Legacy user {legacy_id!r} was imported earlier as {username!r}, which no longer exists "
                        "here; map it onto an account with --user-map.",
                        code="legacy_user_gone",
                    )
                self.users[legacy_id] = existing[username]
                self.report.users_known.append(legacy_id)
            else:
                self._new_user(legacy_id, existing)

    def _map_user(self, legacy_id: str, username: str, existing: dict[str, User]) -> None:
        user = existing.get(username)
        if user is None:
            raise InvalidInput(
                f"--user-map maps legacy user {legacy_id!r} to {username!r}, which is not a user here.",
                code="legacy_user_map_unknown_user",
            )
        self.users[legacy_id] = user
        if self.ledger.users.get(legacy_id) == username:
            self.report.users_known.append(legacy_id)
        else:
            self.new_mappings.append((legacy_id, user))
            self.report.users_mapped.append((legacy_id, username))

    def _new_user(self, legacy_id: str, existing: dict[str, User]) -> None:
        username_field = User._meta.get_field("username")
        try:
            if len(legacy_id) > (username_field.max_length or 150):
                raise ValidationError("too long")
            User.username_validator(legacy_id)
        except ValidationError:
            raise InvalidInput(
                f"Legacy user id {legacy_id!r} cannot be a username here (letters, digits and @ . + - _, at most "
                f"{username_field.max_length} characters); map it onto an existing account with --user-map.",
                code="legacy_user_id_invalid",
            ) from None
        if legacy_id in existing:
            raise Conflict(
                f"A user named {legacy_id!r} already exists here and was not created by an earlier import. If it "
                f'is the same person, map it: --user-map with {{"{legacy_id}": "{legacy_id}"}}; if not, create an '
                "account for the legacy user and map the legacy id onto it.",
                code="legacy_user_exists",
            )
        user = User(username=legacy_id)
        user.set_unusable_password()  # claimed through a password set by an operator or a reset
        self.users[legacy_id] = user
        self.new_users.append((legacy_id, user))
        self.report.users_created.append(legacy_id)

    # ---- groups ---------------------------------------------------------------------------------
    def _plan_groups(self) -> None:
        existing = {org.slug: org for org in Organization.objects.filter(slug__in=self.store.group_ids)}
        for group_id in self.store.group_ids:
            org = existing.get(group_id)
            if group_id in self.ledger.groups:
                if org is None:
                    raise InvalidInput(
                        f"Legacy group {group_id!r} was imported earlier and has since been deleted here; remove "
                        "it from the file (groupKeys and accessControl) to import the rest.",
                        code="legacy_group_gone",
                    )
                self.report.groups_known.append(group_id)
            else:
                if not _GROUP_ID_RE.match(group_id):
                    raise InvalidInput(
                        f"Legacy group id {group_id!r} cannot be a group id here (2-63 lowercase letters, digits, "
                        "'-' or '_', starting with a letter or digit); rename it in the file (in groupKeys and "
                        "accessControl) and run again.",
                        code="legacy_group_id_invalid",
                    )
                if org is not None:
                    raise Conflict(
                        f"A group {group_id!r} already exists here and was not created by an earlier import; rename "
                        "the legacy group in the file (in groupKeys and accessControl) and run again.",
                        code="legacy_group_exists",
                    )
                org = Organization(slug=group_id, name=group_id)
                self.new_groups.append(org)
                self.report.groups_created.append(group_id)
            self.groups[group_id] = org

    # ---- memberships ----------------------------------------------------------------------------
    def _plan_memberships(self) -> None:
        for group_id in self.store.group_ids:
            org = self.groups[group_id]
            legacy_members = self.store.members.get(group_id, ())
            members = list({self.users[m].username: self.users[m] for m in legacy_members}.values())
            if not members:
                self.report.groups_without_members.append(group_id)
            owners = self._owners(group_id, legacy_members)
            current = (
                {m.user.username: m for m in Membership.objects.filter(organization=org).select_related("user")}
                if org.pk
                else {}
            )
            active = {username for username, membership in current.items() if membership.is_active}
            for user in members:
                if f"{group_id}/{user.username}" in self.ledger.memberships or user.username in current:
                    # Imported before (even if removed since), or already a member: left as it is.
                    self.report.memberships_known += 1
                    continue
                role = Membership.Role.OWNER if user.username in owners else Membership.Role.MEMBER
                self.new_memberships.append((org, user, role))
                self.report.memberships_created.append((group_id, user.username, role))
                active.add(user.username)
            self.active_members[group_id] = active

    def _owners(self, group_id: str, legacy_members: tuple[str, ...]) -> set[str]:
        """The members who shared one of the group's keys; else the first member listed."""
        sharers = {key.shared_by for key in self.store.keys if key.ref.kind == "group" and key.ref.owner_id == group_id}
        owners = {self.users[m].username for m in legacy_members if m in sharers}
        if not owners and legacy_members:
            owners = {self.users[legacy_members[0]].username}
        return owners

    # ---- keys -----------------------------------------------------------------------------------
    @sensitive_variables()
    def _plan_keys(self) -> None:
        slots: dict[tuple[str, str, str], RecordRef] = {}
        for legacy in self.store.keys:
            ref = legacy.ref
            if ref.key_id in self.ledger.key_ids:
                self.report.keys_already_imported.append(ref.key_id)
                continue
            user = self.users[ref.owner_id] if ref.kind == "user" else None
            org = self.groups[ref.owner_id] if ref.kind == "group" else None
            owner_label = f"user {user.username!r}" if user is not None else f"group {ref.owner_id!r}"
            slot = (ref.kind, user.username if user is not None else ref.owner_id, ref.provider)
            if slot in slots:
                raise Conflict(
                    f"{ref} and {slots[slot]} would both be the {ref.provider} key of {owner_label} (one key per "
                    "owner and provider here); remove one from the file or change --user-map.",
                    code="legacy_key_duplicate",
                )
            slots[slot] = ref
            current = self._current_key(user=user, organization=org, provider=ref.provider)
            if current is not None:
                if vault.is_same_secret(current, legacy.credential):
                    self.report.keys_already_present.append(ref.key_id)
                    continue
                raise Conflict(
                    f"{ref}: {owner_label} already has a different {ref.provider} key here (keyId "
                    f"{current.key_id}), which an import never overwrites. Keep one of the two: delete the key here, "
                    "or remove the record from the file; then run again. Nothing was imported.",
                    code="legacy_key_conflict",
                )
            allowed = self._allowed(legacy) if org is not None else None
            self.new_keys.append(_NewKey(legacy=legacy, user=user, organization=org, allowed=allowed))
            (self.report.user_keys if user is not None else self.report.group_keys).append(ref.key_id)
            if not legacy.has_metadata:
                self.report.keys_without_metadata.append(ref.key_id)

    @staticmethod
    def _current_key(*, user: User | None, organization: Organization | None, provider: str) -> ProviderKey | None:
        if (user is not None and user.pk is None) or (organization is not None and organization.pk is None):
            return None  # a new owner has no keys yet
        return ProviderKey.objects.filter(user=user, organization=organization, provider=provider).first()

    def _allowed(self, legacy: LegacyKey) -> list[User] | None:
        if legacy.allowed_users is None:
            return None
        active = self.active_members[legacy.ref.owner_id]
        allowed = []
        for legacy_id in legacy.allowed_users:
            user = self.users.get(legacy_id)
            if user is None or user.username not in active:
                # Not a member: the legacy service let them use the key only through "*", which is not imported.
                self.report.allowed_users_dropped.append((legacy.ref.key_id, legacy_id))
            else:
                allowed.append(user)
        return allowed

    # ---- writes ---------------------------------------------------------------------------------
    def apply(self, *, progress: Progress) -> None:
        now = timezone.now()
        for legacy_id, user in self.new_users:
            user.save()
            self._audit_user(legacy_id, user, created=True)
        for legacy_id, user in self.new_mappings:
            self._audit_user(legacy_id, user, created=False)
        for org in self.new_groups:
            org.save()
            audit_record(
                actor=None,
                action=GROUP_IMPORTED,
                target_type="group",
                target_id=org.slug,
                organization=org,
                details={"legacyId": org.slug},
            )
        for org, user, role in self.new_memberships:
            Membership.objects.create(user=user, organization=org, role=role, accepted_at=now)
            if user.default_group_id is None:  # as when joining a group: the first one becomes the default
                user.default_group = org
                user.save(update_fields=["default_group"])
            audit_record(
                actor=None,
                action=MEMBERSHIP_IMPORTED,
                target_type="membership",
                target_id=f"{org.slug}/{user.username}",
                organization=org,
                details={"role": role},
            )
        for new_key in progress(self.new_keys, desc="Importing"):
            self._create_key(new_key)
        audit_record(
            actor=None,
            action=STORE_IMPORTED,
            target_type="legacy_store",
            target_id=self.report.source[-150:],
            details={"source": self.report.source, **self.report.counts()},
        )

    @staticmethod
    def _audit_user(legacy_id: str, user: User, *, created: bool) -> None:
        audit_record(
            actor=None,
            action=USER_IMPORTED,
            target_type="user",
            target_id=user.username,
            details={"legacyId": legacy_id, "created": created},
        )

    @sensitive_variables()
    def _create_key(self, new_key: _NewKey) -> None:
        legacy = new_key.legacy
        adapter_cls = get_adapter_class(legacy.ref.provider)
        kind = "group" if new_key.organization is not None else "user"
        key = ProviderKey(
            key_id=f"byok_{kind}_{legacy.ref.provider}_{pysecrets.token_hex(8)}",
            user=new_key.user,
            organization=new_key.organization,
            provider=legacy.ref.provider,
            name=(legacy.name or f"{adapter_cls.spec.name} key")[:200],
            description=legacy.description[:2000],
            last4=adapter_cls.last4(legacy.credential),
            status=ProviderKey.Status.UNVERIFIED,
            status_reason=IMPORTED_STATUS_REASON,
            last_used_at=legacy.last_used_at,
            usage_count=legacy.usage_count,
            allow_all_members=new_key.allowed is None,
        )
        vault.seal_credential(key, legacy.credential)
        key.save()
        # created_at is set on insert; the key keeps the date it was added to the legacy store.
        ProviderKey.objects.filter(pk=key.pk).update(created_at=legacy.added_at)
        if new_key.allowed:
            key.allowed_users.set(new_key.allowed)
        audit_record(
            actor=None,
            action=KEY_IMPORTED,
            target_type="provider_key",
            target_id=key.key_id,
            organization=new_key.organization,
            details={
                "legacyKeyId": legacy.ref.key_id,
                "provider": key.provider,
                "owner": key.owner_label,
                "last4": key.last4,
                "status": key.status,
                "usageCount": key.usage_count,
                **(
                    {"allowedUsers": "all" if new_key.allowed is None else [u.username for u in new_key.allowed]}
                    if new_key.organization is not None
                    else {}
                ),
            },
        )
