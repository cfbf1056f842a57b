"""Sealing provider keys: AES-256-GCM, pure (no ORM, no settings reads).

Stored format (one ASCII string)::

    byok:v1:<key fingerprint>:<base64url(nonce || ciphertext+tag)>

- a fresh 96-bit nonce for every encryption (never reused under one key);
- associated data binds the ciphertext to its record, so a value copied onto another row fails;
- the fingerprint names the master key that sealed it, so old and new master keys can be held side
  by side during a rotation and a value sealed with an unknown key says so;
- any failure raises ``DecryptionError``; nothing ever falls back to plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "byok:v1:"
NONCE_BYTES = 12
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class MasterKeyError(ValueError):
    """A master key is missing or malformed."""


class DecryptionError(Exception):
    """A sealed value could not be opened. The message never contains secret material."""


def parse_master_key(value: str, *, name: str = "BYOK_ENCRYPTION_KEY") -> bytes:
    value = (value or "").strip()
    if not value:
        raise MasterKeyError(f"{name} is empty; set it to 64 hex characters (openssl rand -hex 32).")
    if not _HEX64.match(value):
        raise MasterKeyError(
            f"{name} must be exactly 64 hex characters (32 bytes, e.g. from `openssl rand -hex 32`); "
            f"got {len(value)} characters"
            + ("" if re.fullmatch(r"[0-9a-fA-F]*", value) else " including non-hex characters")
            + "."
        )
    return bytes.fromhex(value)


def fingerprint(key: bytes) -> str:
    """A short public name for a master key (not reversible; 8 hex chars of SHA-256)."""
    return hashlib.sha256(b"byok-master-key-id:" + key).hexdigest()[:8]


@dataclass(frozen=True)
class Keyring:
    """The primary key seals; every key in the ring can open."""

    primary: bytes
    previous: tuple[bytes, ...] = ()
    _by_id: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    # Made once per ring, not per secret (a reseal seals and opens hundreds of thousands): the AES-GCM
    # contexts, the primary key's id, and each master key's fingerprint subkey.
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, compare=False, repr=False)
    _fingerprint_keys: dict[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    _primary_id: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        for key in (self.primary, *self.previous):
            if len(key) != 32:
                raise MasterKeyError("Master keys must be 32 bytes.")
            key_id = fingerprint(key)
            if key_id not in self._by_id:
                self._by_id[key_id] = key
                self._ciphers[key_id] = AESGCM(key)
                self._fingerprint_keys[key_id] = _fingerprint_subkey(key)
        object.__setattr__(self, "_primary_id", fingerprint(self.primary))

    def __repr__(self) -> str:
        return f"Keyring(primary={self.primary_id}, previous={[fingerprint(k) for k in self.previous]})"

    @property
    def primary_id(self) -> str:
        return self._primary_id

    @classmethod
    def from_hex(cls, primary: str, previous: Iterable[str] = ()) -> Keyring:
        return cls(
            primary=parse_master_key(primary),
            previous=tuple(
                parse_master_key(p, name=f"BYOK_PREVIOUS_ENCRYPTION_KEYS[{i}]")
                for i, p in enumerate(previous)
                if p.strip()
            ),
        )

    def seal(self, plaintext: bytes, *, aad: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = self._ciphers[self.primary_id].encrypt(nonce, plaintext, aad)
        body = base64.urlsafe_b64encode(nonce + ciphertext).decode("ascii")
        return f"{PREFIX}{self.primary_id}:{body}"

    def open(self, sealed: str, *, aad: bytes) -> bytes:
        if not isinstance(sealed, str) or not sealed.startswith(PREFIX):
            raise DecryptionError("Stored secret is not in the byok:v1 sealed format.")
        try:
            key_id, body = sealed[len(PREFIX) :].split(":", 1)
        except ValueError:
            raise DecryptionError("Stored secret is truncated.") from None
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise DecryptionError(
                f"Stored secret was sealed with master key {key_id}, which is not configured; "
                "add it to BYOK_PREVIOUS_ENCRYPTION_KEYS."
            )
        try:
            raw = base64.urlsafe_b64decode(body.encode("ascii"))
        except (binascii.Error, ValueError):
            raise DecryptionError("Stored secret is not valid base64.") from None
        if len(raw) < NONCE_BYTES + 16:
            raise DecryptionError("Stored secret is truncated.")
        try:
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad)
        except InvalidTag:
            raise DecryptionError(
                f"Stored secret failed authentication under master key {key_id}: it was altered, "
                "or it belongs to another record."
            ) from None

    def secret_fingerprint(self, plaintext: bytes) -> str:
        """A keyed fingerprint of a secret (``<master key id>:<HMAC-SHA256>``), so a later value can be
        compared with it without decrypting anything. Keyed, so a database dump cannot be used to test
        guesses of a key offline."""
        return f"{self.primary_id}:{_fingerprint_mac(self._fingerprint_keys[self.primary_id], plaintext)}"

    def matches_fingerprint(self, stored: str, plaintext: bytes) -> bool:
        """Whether ``plaintext`` is the secret ``stored`` was computed from (False when the master key
        that computed it is no longer configured)."""
        key_id, _, mac = (stored or "").partition(":")
        subkey = self._fingerprint_keys.get(key_id)
        return subkey is not None and hmac.compare_digest(mac, _fingerprint_mac(subkey, plaintext))

    def needs_reseal(self, sealed: str) -> bool:
        return not sealed.startswith(f"{PREFIX}{self.primary_id}:")


def _fingerprint_subkey(master: bytes) -> bytes:
    # A subkey derived for this one purpose: the master key itself never keys anything but AES-GCM.
    return hmac.new(master, b"byok-secret-fingerprint:v1", hashlib.sha256).digest()


def _fingerprint_mac(subkey: bytes, plaintext: bytes) -> str:
    return hmac.new(subkey, plaintext, hashlib.sha256).hexdigest()
