"""The one place where a stored provider key is decrypted: on the path that calls the provider.

The plaintext lives only in the adapter object made for one call; nothing shared ever holds it.
"""

from __future__ import annotations

import json

from django.views.decorators.debug import sensitive_variables

from byok_keys.keyring import get_keyring
from byok_keys.models import ProviderKey
from providers.base import Credential, ProviderAdapter
from providers.registry import get_adapter_class


@sensitive_variables("plaintext")
def open_credential(key: ProviderKey) -> Credential:
    """Decrypt ``key``'s secret. Raises ``byok_keys.crypto.DecryptionError`` on any failure."""
    plaintext = get_keyring().open(key.sealed_secret, aad=key.aad())
    value = json.loads(plaintext.decode())
    if not isinstance(value, str | dict):
        raise TypeError("A stored credential is a string or an object of strings.")
    return value


def adapter_for_key(key: ProviderKey) -> ProviderAdapter:
    return get_adapter_class(key.provider)(open_credential(key))


def adapter_for_credential(provider: str, credential: Credential) -> ProviderAdapter:
    return get_adapter_class(provider)(credential)
