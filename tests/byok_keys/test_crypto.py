from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from byok_keys.crypto import DecryptionError, Keyring, MasterKeyError, parse_master_key
from byok_keys.models import ProviderKey
from byok_keys.vault import open_credential
from groups.models import User
from tests.factories import OPENAI_KEY, store_user_key

KEY_A = "11" * 32
KEY_B = "22" * 32


def test_round_trip_returns_the_plaintext() -> None:
    ring = Keyring.from_hex(KEY_A)
    sealed = ring.seal(b"sk-secret-value", aad=b"record-1")
    assert sealed.startswith(f"byok:v1:{ring.primary_id}:")
    assert b"sk-secret-value" not in sealed.encode()
    assert ring.open(sealed, aad=b"record-1") == b"sk-secret-value"


def test_each_encryption_uses_a_fresh_nonce() -> None:
    ring = Keyring.from_hex(KEY_A)
    assert ring.seal(b"same", aad=b"r") != ring.seal(b"same", aad=b"r")


def test_a_flipped_byte_fails_to_decrypt() -> None:
    ring = Keyring.from_hex(KEY_A)
    sealed = ring.seal(b"secret", aad=b"r")
    prefix, body = sealed.rsplit(":", 1)
    index = len(body) // 2
    flipped = body[:index] + ("A" if body[index] != "A" else "B") + body[index + 1 :]
    with pytest.raises(DecryptionError, match="failed authentication"):
        ring.open(f"{prefix}:{flipped}", aad=b"r")


def test_a_ciphertext_copied_onto_another_record_fails() -> None:
    ring = Keyring.from_hex(KEY_A)
    sealed = ring.seal(b"secret", aad=b"record-1")
    with pytest.raises(DecryptionError, match="another record"):
        ring.open(sealed, aad=b"record-2")


def test_a_wrong_master_key_fails_with_a_clear_error() -> None:
    sealed = Keyring.from_hex(KEY_A).seal(b"secret", aad=b"r")
    with pytest.raises(DecryptionError, match="not configured; add it to BYOK_PREVIOUS_ENCRYPTION_KEYS"):
        Keyring.from_hex(KEY_B).open(sealed, aad=b"r")


def test_previous_keys_still_decrypt_after_rotation() -> None:
    sealed = Keyring.from_hex(KEY_A).seal(b"secret", aad=b"r")
    rotated = Keyring.from_hex(KEY_B, [KEY_A])
    assert rotated.open(sealed, aad=b"r") == b"secret"
    assert rotated.needs_reseal(sealed)
    assert rotated.seal(b"x", aad=b"r").startswith(f"byok:v1:{rotated.primary_id}:")


@pytest.mark.parametrize("value", ["byok:v1:", "plaintext-key", "byok:v1:abcd1234:!!notbase64", ""])
def test_garbage_never_falls_back_to_plaintext(value: str) -> None:
    with pytest.raises(DecryptionError):
        Keyring.from_hex(KEY_A).open(value, aad=b"r")


@pytest.mark.parametrize(
    ("value", "message"),
    [("", "is empty"), ("abc", "got 3 characters"), ("zz" * 32, "non-hex"), ("11" * 31, "got 62 characters")],
)
def test_malformed_master_keys_are_refused_with_a_reason(value: str, message: str) -> None:
    with pytest.raises(MasterKeyError, match=message):
        parse_master_key(value)


def test_reseal_command_finishes_a_rotation(owner: User, settings: object) -> None:
    key = store_user_key(owner)
    old_primary = settings.BYOK_ENCRYPTION_KEY  # type: ignore[attr-defined]
    settings.BYOK_ENCRYPTION_KEY = KEY_B  # type: ignore[attr-defined]
    settings.BYOK_PREVIOUS_ENCRYPTION_KEYS = [old_primary]  # type: ignore[attr-defined]
    out = StringIO()
    call_command("byok_reseal", stdout=out)
    assert "Re-encrypted 1 key(s)" in out.getvalue()
    settings.BYOK_PREVIOUS_ENCRYPTION_KEYS = []  # type: ignore[attr-defined]
    # The old master key is no longer needed.
    assert open_credential(ProviderKey.objects.get(pk=key.pk)) == OPENAI_KEY


def test_secret_fingerprint_matches_only_the_same_secret_under_a_known_master_key() -> None:
    from byok_keys.crypto import Keyring

    old, new = Keyring(primary=b"\x01" * 32), Keyring(primary=b"\x02" * 32, previous=(b"\x01" * 32,))
    stored = old.secret_fingerprint(b"sk-secret-one")
    assert b"sk-secret-one".decode() not in stored
    assert old.matches_fingerprint(stored, b"sk-secret-one")
    assert not old.matches_fingerprint(stored, b"sk-secret-two")
    assert new.matches_fingerprint(stored, b"sk-secret-one")  # the sealing key is still in the ring
    assert not Keyring(primary=b"\x03" * 32).matches_fingerprint(stored, b"sk-secret-one")
