"""The one place where a stored provider key is sealed, opened, compared or re-sealed.

Opening happens only on the path that calls the provider: the plaintext lives only in the adapter
object made for one call, and nothing shared ever holds it. Comparing a new secret with a stored one
uses the keyed fingerprint written at seal time, not decryption.
"""

from __future__ import annotations

import json

from django.views.decorators.debug import sensitive_variables

from byok_keys.crypto import PREFIX, DecryptionError
from byok_keys.keyring import get_keyring
from byok_keys.models import ProviderKey
from providers.base import Credential, ProviderAdapter
from providers.registry import get_adapter_class


def _plaintext(credential: Credential) -> bytes:
    return json.dumps(credential, separators=(",", ":")).encode()


@sensitive_variables("credential", "plaintext")
def seal_credential(key: ProviderKey, credential: Credential) -> None:
    """Seal ``credential`` onto ``key`` (its ``key_id`` and owner must be final: they are bound in)."""
    keyring = get_keyring()
    plaintext = _plaintext(credential)
    key.sealed_secret = keyring.seal(plaintext, aad=key.aad())
    key.secret_fingerprint = keyring.secret_fingerprint(plaintext)


@sensitive_variables("credential")
def is_same_secret(key: ProviderKey, credential: Credential) -> bool:
    """Whether ``credential`` is the secret stored on ``key``, by its keyed fingerprint.

    A key sealed before fingerprints existed (until ``byok_reseal`` gives it one) is compared by
    opening it, here in the vault.
    """
    keyring = get_keyring()
    if key.secret_fingerprint:
        return keyring.matches_fingerprint(key.secret_fingerprint, _plaintext(credential))
    try:
        return keyring.open(key.sealed_secret, aad=key.aad()) == _plaintext(credential)
    except DecryptionError:
        return False


@sensitive_variables("plaintext")
def open_credential(key: ProviderKey) -> Credential:
    """Decrypt ``key``'s secret. Raises ``byok_keys.crypto.DecryptionError`` on any failure."""
    plaintext = get_keyring().open(key.sealed_secret, aad=key.aad())
    value = json.loads(plaintext.decode())
    if not isinstance(value, str | dict):
        raise TypeError("A stored credential is a string or an object of strings.")
    return value


@sensitive_variables("plaintext")
def reseal(key: ProviderKey) -> bool:
    """Re-encrypt ``key`` under the primary master key (and give it a fingerprint if it has none).
    Returns whether anything changed; the caller saves. Raises ``DecryptionError``."""
    keyring = get_keyring()
    if not keyring.needs_reseal(key.sealed_secret) and key.secret_fingerprint:
        return False
    plaintext = keyring.open(key.sealed_secret, aad=key.aad())
    if keyring.needs_reseal(key.sealed_secret):
        key.sealed_secret = keyring.seal(plaintext, aad=key.aad())
    key.secret_fingerprint = keyring.secret_fingerprint(plaintext)
    return True


def sealed_by(key: ProviderKey) -> str:
    """The id of the master key that sealed ``key`` (public: it is part of the stored value)."""
    return key.sealed_secret.removeprefix(PREFIX).split(":", 1)[0] if key.sealed_secret.startswith(PREFIX) else "?"


def can_open(key: ProviderKey) -> bool:
    """Whether ``key`` opens with the configured master keys (the plaintext is dropped at once)."""
    try:
        get_keyring().open(key.sealed_secret, aad=key.aad())
    except DecryptionError:
        return False
    return True


def adapter_for_key(key: ProviderKey) -> ProviderAdapter:
    """An adapter holding ``key``'s decrypted secret, made for one call."""
    return get_adapter_class(key.provider)(open_credential(key))


def adapter_for_credential(provider: str, credential: Credential) -> ProviderAdapter:
    return get_adapter_class(provider)(credential)
