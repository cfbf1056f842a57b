"""The configured master keys, read from settings when first needed (never at import time)."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from byok_keys.crypto import Keyring


@lru_cache(maxsize=4)
def _keyring(primary: str, previous: tuple[str, ...]) -> Keyring:
    return Keyring.from_hex(primary, previous)


def get_keyring() -> Keyring:
    # Keyed on the values, so a test that overrides settings gets its own ring.
    return _keyring(settings.BYOK_ENCRYPTION_KEY, tuple(settings.BYOK_PREVIOUS_ENCRYPTION_KEYS))
