"""The audit log's hash chain: pure functions over plain values (no ORM, no settings at import time),
so the migration that chains older events and the verifier compute exactly what ``audit_record`` wrote.

Each event stores ``prev_hash`` (the previous event's ``hash``) and ``hash`` = HMAC-SHA256 over a
canonical JSON of its fields and ``prev_hash``. Editing a row changes its content (its hash no longer
matches), deleting one leaves a gap in ``sequence`` and a ``prev_hash`` that points nowhere, and
inserting one needs a valid hash.

Why an HMAC and not a plain SHA-256: anyone who can write to the database could recompute a plain
SHA-256 chain after tampering. The HMAC key is derived from ``DJANGO_SECRET_KEY``, which lives in the
server's environment, not in the database, so a database writer alone cannot forge a link.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# prev_hash of the first event.
GENESIS = "0" * 64
# Changing the canonical form or the key derivation means a new version (and keeping the old one for
# verifying older rows).
VERSION = 1
_KEY_INFO = b"byok-vault audit chain v1"


@lru_cache(maxsize=8)
def chain_key(secret_key: str) -> bytes:
    """The HMAC key, derived from Django's SECRET_KEY with HKDF-SHA256 (a key used for nothing else:
    knowing it reveals nothing about the session or password-reset signatures)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_KEY_INFO).derive(secret_key.encode())


def chain_keys(secret_key: str, fallbacks: Iterable[str] = ()) -> list[bytes]:
    """The current key first, then those of ``SECRET_KEY_FALLBACKS`` (rows chained before a rotation)."""
    return [chain_key(secret_key), *(chain_key(key) for key in fallbacks if key)]


def canonical_time(value: datetime) -> str:
    """UTC with microseconds, one spelling whatever the database hands back."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_ip(value: str | None) -> str | None:
    """The address as the database stores it (IPv6 compressed, lower case); not an address → None."""
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(str(value).strip()))
    except ValueError:
        return None


def _plain(value: Any) -> Any:
    """JSON values as any database returns them: PostgreSQL's jsonb turns 1e20 into an integer, so an
    integral float is written as the integer it equals."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def canonical(
    *,
    sequence: int,
    created_at: datetime,
    actor_id: int | None,
    actor_label: str,
    action: str,
    target_type: str,
    target_id: str,
    organization_id: int | None,
    ip_address: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> bytes:
    """The bytes an event's hash covers: sorted keys, no whitespace, UTF-8, NaN refused."""
    document = {
        "v": VERSION,
        "sequence": sequence,
        "createdAt": canonical_time(created_at),
        "actorId": actor_id,
        "actorLabel": actor_label,
        "action": action,
        "targetType": target_type,
        "targetId": target_id,
        "organizationId": organization_id,
        "ip": canonical_ip(ip_address),
        "details": _plain(details),
        "prevHash": prev_hash,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def link_hash(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def link_matches(keys: Iterable[bytes], message: bytes, stored: str) -> bool:
    """Whether ``stored`` is the hash of ``message`` under any of ``keys`` (compared in constant time)."""
    return any(hmac.compare_digest(link_hash(key, message), stored or "") for key in keys)
