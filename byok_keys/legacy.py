"""Reading the legacy Node.js BYOK store (LLM-Runner-Router's ``data/byok-keys.json``).

Pure: no ORM and no settings. ``parse_document`` checks the file's structure; ``decrypt_store`` opens
every record with the legacy key and checks each credential with its provider's format rules, so the
importer (``byok_keys.importer``) starts writing only once the whole store is known to be good.

The legacy encryption: AES-256-CBC with PKCS#7 padding and no MAC, stored as ``<iv hex>:<ciphertext
hex>``, under the first 32 bytes of the hex ``BYOK_ENCRYPTION_KEY``. Without a MAC, a wrong key or an
altered record is noticed only by what it decrypts to: about 1 wrong key in 256 passes the padding
check, so the result must also be UTF-8, printable and a well-formed credential for its provider.

Every error message names the record (section, owner, provider, keyId) and never holds a secret, the
legacy key or a decrypted value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.views.decorators.debug import sensitive_variables

from common.errors import InvalidInput
from providers.base import Credential, CredentialFormatError
from providers.registry import UnknownProviderError, get_adapter_class

SECTIONS = ("userKeys", "groupKeys", "keyMetadata", "accessControl")
# accessControl's member id meaning "every user": this service has no such member, so it is reported.
WILDCARD_MEMBER = "*"
_HEX_RE = re.compile(r"^[0-9a-fA-F]+$")
_IV_BYTES = 16
_BLOCK_BYTES = 16


T = TypeVar("T")


class Progress(Protocol):
    """Wraps the items a long step goes through, e.g. in a progress bar (``tqdm``)."""

    def __call__(self, items: Sequence[T], *, desc: str) -> Iterable[T]: ...


def no_progress(items: Sequence[T], *, desc: str) -> Iterable[T]:
    return items


class LegacyStoreError(InvalidInput):
    """The legacy store cannot be imported as it is. The message says which record and why."""

    code = "legacy_store_invalid"


@dataclass(frozen=True)
class RecordRef:
    """Where a record sits in the legacy file: enough for an operator to find it, nothing secret."""

    kind: str  # "user" or "group"
    owner_id: str
    provider: str
    key_id: str

    def __str__(self) -> str:
        section = "userKeys" if self.kind == "user" else "groupKeys"
        return f"{section}[{json.dumps(self.owner_id)}][{json.dumps(self.provider)}] (keyId {self.key_id})"


@dataclass(frozen=True)
class SealedRecord:
    """A record as stored: its secret still encrypted."""

    ref: RecordRef
    encrypted: str = field(repr=False)
    added_at: datetime
    last_used_at: datetime | None
    usage_count: int
    shared_by: str | None
    metadata: Mapping[str, object] | None


@dataclass(frozen=True)
class LegacyDocument:
    """The structure of a legacy store, checked; no record decrypted yet."""

    records: tuple[SealedRecord, ...]
    # Group id -> its members in file order, without the wildcard, each once.
    members: dict[str, tuple[str, ...]]
    # Every group id the file knows (from groupKeys and accessControl), sorted.
    group_ids: tuple[str, ...]
    wildcard_groups: tuple[str, ...]
    # keyMetadata entries no record references (metadata of overwritten keys was never deleted).
    orphaned_metadata: tuple[str, ...]


@dataclass(frozen=True)
class LegacyKey:
    """One decrypted and checked key, with what the legacy store knew about it."""

    ref: RecordRef
    credential: Credential = field(repr=False)
    name: str
    description: str
    added_at: datetime
    last_used_at: datetime | None
    usage_count: int
    shared_by: str | None
    # Group keys: None = every member ("all"); a tuple = only those legacy user ids (empty = nobody).
    allowed_users: tuple[str, ...] | None
    has_metadata: bool


@dataclass(frozen=True)
class LegacyStore:
    keys: tuple[LegacyKey, ...]
    members: dict[str, tuple[str, ...]]
    group_ids: tuple[str, ...]
    wildcard_groups: tuple[str, ...]
    orphaned_metadata: tuple[str, ...]

    def user_ids(self) -> list[str]:
        """Every legacy user id that owns a key or is a member of a group, sorted."""
        ids = {key.ref.owner_id for key in self.keys if key.ref.kind == "user"}
        ids.update(user_id for members in self.members.values() for user_id in members)
        return sorted(ids)


# ---- the legacy key -----------------------------------------------------------------------------


@sensitive_variables("value")
def cipher_key_from_hex(value: str) -> bytes:
    """The AES-256 key the Node service used: the first 32 bytes of its hex ``BYOK_ENCRYPTION_KEY``
    (it silently ignored anything longer, and had no KDF)."""
    value = (value or "").strip()
    if len(value) < 64 or not _HEX_RE.match(value[:64]):
        # Never echo the value: it is the key to every legacy secret.
        raise LegacyStoreError(
            "--legacy-key must be the legacy service's BYOK_ENCRYPTION_KEY: 64 or more hexadecimal characters "
            "(the first 64 are used)."
        )
    return bytes.fromhex(value[:64])


@sensitive_variables("padded", "data", "text")
def decrypt_value(encrypted: str, *, cipher_key: bytes) -> str:
    """Decrypt one ``<iv hex>:<ciphertext hex>`` value. Raises ``ValueError`` (with no detail about the
    content) when it is malformed, fails the padding check or does not decrypt to printable UTF-8."""
    iv_hex, sep, ct_hex = encrypted.partition(":")
    if not sep or ":" in ct_hex or not _HEX_RE.match(iv_hex) or not _HEX_RE.match(ct_hex or "-"):
        raise ValueError("not '<iv hex>:<ciphertext hex>'")
    iv, ciphertext = bytes.fromhex(iv_hex), bytes.fromhex(ct_hex)
    if len(iv) != _IV_BYTES or not ciphertext or len(ciphertext) % _BLOCK_BYTES:
        raise ValueError("wrong IV or ciphertext length")
    decryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    data = unpadder.update(padded) + unpadder.finalize()  # ValueError on bad padding
    text = data.decode("utf-8")  # strict: UnicodeDecodeError is a ValueError
    if not text.strip() or not text.strip().isprintable():
        raise ValueError("not printable text")
    return text


# ---- the file's structure -----------------------------------------------------------------------


def parse_document(raw: bytes) -> LegacyDocument:
    """Check the structure of a legacy store file. Raises ``LegacyStoreError`` naming what is wrong."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise LegacyStoreError("The legacy store is not UTF-8 text.") from None
    except json.JSONDecodeError as exc:  # the message has a position, never the content
        raise LegacyStoreError(
            f"The legacy store is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}."
        ) from None
    if not isinstance(data, dict):
        raise LegacyStoreError("The legacy store is not a JSON object; is this the BYOK store file?")
    missing = [name for name in SECTIONS if name not in data]
    if missing:
        raise LegacyStoreError(
            f"The legacy store has no {', '.join(repr(name) for name in missing)} section; is this the BYOK "
            f"store file? It has {', '.join(SECTIONS)}."
        )
    for name in SECTIONS:
        if not isinstance(data[name], dict):
            raise LegacyStoreError(f"The legacy store's {name!r} section is not an object.")
    metadata: dict[str, object] = data["keyMetadata"]
    records = [
        *_records(data["userKeys"], kind="user", metadata=metadata),
        *_records(data["groupKeys"], kind="group", metadata=metadata),
    ]
    seen: dict[str, RecordRef] = {}
    for record in records:
        if record.ref.key_id in seen:
            raise LegacyStoreError(f"{record.ref} and {seen[record.ref.key_id]} have the same keyId.")
        seen[record.ref.key_id] = record.ref
    members, wildcard_groups = _access_control(data["accessControl"])
    return LegacyDocument(
        records=tuple(records),
        members=members,
        group_ids=tuple(sorted(set(data["groupKeys"]) | set(data["accessControl"]))),
        wildcard_groups=tuple(wildcard_groups),
        orphaned_metadata=tuple(sorted(set(metadata) - set(seen))),
    )


def _records(section: dict[str, object], *, kind: str, metadata: dict[str, object]) -> list[SealedRecord]:
    name = "userKeys" if kind == "user" else "groupKeys"
    out = []
    for owner_id, providers in section.items():
        if not owner_id.strip():
            raise LegacyStoreError(f"{name} has an empty {kind} id.")
        if not isinstance(providers, dict):
            raise LegacyStoreError(f"{name}[{json.dumps(owner_id)}] is not an object of provider -> record.")
        for provider, record in providers.items():
            where = f"{name}[{json.dumps(owner_id)}][{json.dumps(provider)}]"
            if not isinstance(record, dict):
                raise LegacyStoreError(f"{where} is not a record object.")
            key_id, encrypted = record.get("keyId"), record.get("encryptedKey")
            if not isinstance(key_id, str) or not key_id:
                raise LegacyStoreError(f"{where} has no keyId.")
            ref = RecordRef(kind=kind, owner_id=owner_id, provider=provider, key_id=key_id)
            if not isinstance(encrypted, str) or not encrypted:
                raise LegacyStoreError(f"{ref} has no encryptedKey.")
            meta = metadata.get(key_id)
            if meta is not None and not isinstance(meta, dict):
                raise LegacyStoreError(f"keyMetadata[{json.dumps(key_id)}] of {ref} is not an object.")
            shared_by = record.get("sharedBy") or (meta or {}).get("sharedBy")
            out.append(
                SealedRecord(
                    ref=ref,
                    encrypted=encrypted,
                    added_at=_timestamp(record.get("addedAt"), ref=ref, field_name="addedAt"),
                    last_used_at=_optional_timestamp(record.get("lastUsed"), ref=ref, field_name="lastUsed"),
                    usage_count=_usage_count(record.get("usageCount"), ref=ref),
                    shared_by=shared_by if isinstance(shared_by, str) else None,
                    metadata=meta,
                )
            )
    return out


def _timestamp(value: object, *, ref: RecordRef, field_name: str) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    raise LegacyStoreError(f"{ref}: {field_name} is not an ISO timestamp.")


def _optional_timestamp(value: object, *, ref: RecordRef, field_name: str) -> datetime | None:
    return None if value is None else _timestamp(value, ref=ref, field_name=field_name)


def _usage_count(value: object, *, ref: RecordRef) -> int:
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise LegacyStoreError(f"{ref}: usageCount is not a whole number of 0 or more.")
    return value


def _access_control(section: dict[str, object]) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    members: dict[str, tuple[str, ...]] = {}
    wildcard_groups = []
    for group_id, user_ids in section.items():
        if not isinstance(user_ids, list) or not all(isinstance(u, str) and u for u in user_ids):
            raise LegacyStoreError(f"accessControl[{json.dumps(group_id)}] is not a list of user ids.")
        if WILDCARD_MEMBER in user_ids:
            wildcard_groups.append(group_id)
        members[group_id] = tuple(dict.fromkeys(u for u in user_ids if u != WILDCARD_MEMBER))
    return members, sorted(wildcard_groups)


# ---- decrypting and checking --------------------------------------------------------------------


@sensitive_variables("cipher_key", "text", "credential")
def decrypt_store(document: LegacyDocument, *, cipher_key: bytes, progress: Progress = no_progress) -> LegacyStore:
    """Decrypt and check every record. Raises ``LegacyStoreError`` naming the first record that fails."""
    keys = []
    for record in progress(document.records, desc="Decrypting"):
        try:
            adapter_cls = get_adapter_class(record.ref.provider)
        except UnknownProviderError:
            raise LegacyStoreError(
                f"{record.ref}: unknown provider id {record.ref.provider!r}; this service knows "
                "the ids listed by GET /api/byok/providers. Remove the record from the file to import the rest."
            ) from None
        try:
            text = decrypt_value(record.encrypted, cipher_key=cipher_key)
        except ValueError:
            raise LegacyStoreError(
                f"{record.ref} cannot be decrypted: the --legacy-key is wrong, or the record was altered or "
                "truncated. Nothing was imported."
            ) from None
        try:
            # A config provider's value is its JSON object (parse_credential reads a JSON string). Any
            # other value is the key as a string: the Node service JSON-parsed every value, so a key of
            # digits came back as a number there; here it stays the string that was stored.
            credential = adapter_cls.parse_credential(text)
        except CredentialFormatError as exc:
            raise LegacyStoreError(
                f"{record.ref} decrypts to something that is not a usable {adapter_cls.spec.name} credential "
                f"here: {exc.message} If every record fails like this, the --legacy-key is wrong; otherwise fix "
                "the key or remove the record from the file. Nothing was imported."
            ) from None
        keys.append(_legacy_key(record, credential))
    return LegacyStore(
        keys=tuple(keys),
        members=document.members,
        group_ids=document.group_ids,
        wildcard_groups=document.wildcard_groups,
        orphaned_metadata=document.orphaned_metadata,
    )


@sensitive_variables("credential")
def _legacy_key(record: SealedRecord, credential: Credential) -> LegacyKey:
    meta = record.metadata or {}
    name, description = meta.get("name"), meta.get("description")
    return LegacyKey(
        ref=record.ref,
        credential=credential,
        name=name.strip() if isinstance(name, str) else "",
        description=description.strip() if isinstance(description, str) else "",
        added_at=record.added_at,
        last_used_at=record.last_used_at,
        usage_count=record.usage_count,
        shared_by=record.shared_by,
        allowed_users=_allowed_users(meta.get("allowedUsers")) if record.ref.kind == "group" else None,
        has_metadata=record.metadata is not None,
    )


def _allowed_users(value: object) -> tuple[str, ...] | None:
    """The Node service let a member use a group key when allowedUsers was "all" or a list naming them;
    any other value (missing metadata included) meant nobody."""
    if value == "all":
        return None
    if isinstance(value, list):
        return tuple(dict.fromkeys(u for u in value if isinstance(u, str) and u))
    return ()
