"""``byok_import_legacy``: the Node.js store brought in all or nothing, once, without a secret escaping.

The legacy files are written here by ``LegacyWriter``, the reference implementation of the Node service's
writer (AES-256-CBC + PKCS#7, ``<iv hex>:<ciphertext hex>``, the first 32 bytes of the hex key), so the
tests decrypt what the legacy service would have written.
"""

from __future__ import annotations

import json
import logging
import os
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from byok_keys import legacy, vault
from byok_keys.models import ProviderKey
from groups.models import AuditEvent, Membership, Organization, User
from tests.factories import create_user

pytestmark = pytest.mark.django_db

# 72 hex characters: the Node service used the first 32 bytes and ignored the rest.
LEGACY_KEY = "5f" * 8 + "a0b1c2d3e4f5061728394a5b6c7d8e9f" + "0123456789abcdef" * 2 + "deadbeef"
WRONG_KEY = "11" * 32

# Distinctive secrets: each must never be seen outside the vault.
ALICE_OPENAI = "sk-proj-" + "LeGaCyAlIcE0penai" * 3
ALICE_OLD_OPENAI = "sk-proj-" + "LeGaCyOldKeyOverwritten" * 2
BOB_AZURE = {
    "endpoint_url": "https://bob-resource.openai.azure.com",
    "api_key": "LeGaCyAzUrEbOb" * 3,
    "deployment_id": "gpt-4o-mini",
    "api_version": "2024-10-21",
}
# Mistral keys may be all digits; the Node service JSON-parsed this one into a (rounded) number.
BOB_MISTRAL_DIGITS = "31415926535897932384626433832795"
ACME_OPENAI = "sk-proj-" + "LeGaCyAcMeGroupKey" * 3
BETA_GROQ = "gsk_" + "LeGaCyBeTaGroq" * 3 + "abcdefghij"
SECRETS = [ALICE_OPENAI, ALICE_OLD_OPENAI, BOB_AZURE["api_key"], BOB_MISTRAL_DIGITS, ACME_OPENAI, BETA_GROQ]


def legacy_encrypt(plaintext: str, key_hex: str = LEGACY_KEY, iv: bytes | None = None) -> str:
    """The Node service's ``encrypt``: AES-256-CBC, PKCS#7, ``<iv hex>:<ciphertext hex>``."""
    key = bytes.fromhex(key_hex)[:32]
    iv = iv or os.urandom(16)
    padder = padding.PKCS7(128).padder()
    data = padder.update(plaintext.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return iv.hex() + ":" + (encryptor.update(data) + encryptor.finalize()).hex()


class LegacyWriter:
    """What the Node service's setUserKey / setGroupKey / addUserToGroup / saveKeys wrote."""

    NAMES = {"openai": "OpenAI", "azure": "Azure OpenAI", "mistral": "Mistral AI", "groq": "Groq"}

    def __init__(self, key_hex: str = LEGACY_KEY) -> None:
        self.key_hex = key_hex
        self.data: dict[str, Any] = {"userKeys": {}, "groupKeys": {}, "keyMetadata": {}, "accessControl": {}}
        self.clock = 1_700_000_000_000

    def _when(self) -> tuple[int, str]:
        self.clock += 86_400_000
        return self.clock, f"2023-11-{(self.clock - 1_700_000_000_000) // 86_400_000:02d}T10:00:00.000Z"

    def set_user_key(
        self,
        user_id: str,
        provider: str,
        key: Any,
        *,
        name: str | None = None,
        description: str | None = None,
        last_used: str | None = None,
        usage_count: int = 0,
    ) -> str:
        ms, added = self._when()
        key_id = f"byok_{user_id}_{provider}_{ms}"
        plaintext = json.dumps(key, separators=(",", ":")) if isinstance(key, dict) else key
        self.data["userKeys"].setdefault(user_id, {})[provider] = {
            "keyId": key_id,
            "encryptedKey": legacy_encrypt(plaintext, self.key_hex),
            "addedAt": added,
            "lastUsed": last_used,
            "usageCount": usage_count,
        }
        meta = {
            "userId": user_id,
            "provider": provider,
            "type": "user",
            "name": name or f"{self.NAMES[provider]} Key",
            "addedAt": added,
            "active": True,
            "limits": None,
        }
        if description is not None:
            meta["description"] = description
        self.data["keyMetadata"][key_id] = meta
        return key_id

    def set_group_key(
        self,
        group_id: str,
        provider: str,
        key: str,
        *,
        shared_by: str | None,
        allowed_users: Any = "all",
        name: str | None = None,
        usage_count: int = 0,
    ) -> str:
        ms, added = self._when()
        key_id = f"byok_group_{group_id}_{provider}_{ms}"
        self.data["groupKeys"].setdefault(group_id, {})[provider] = {
            "keyId": key_id,
            "encryptedKey": legacy_encrypt(key, self.key_hex),
            "addedAt": added,
            "lastUsed": None,
            "usageCount": usage_count,
            "sharedBy": shared_by or "admin",
        }
        meta = {
            "groupId": group_id,
            "provider": provider,
            "type": "group",
            "name": name or f"{self.NAMES[provider]} Group Key",
            "sharedBy": shared_by,
            "addedAt": added,
            "active": True,
            "limits": None,
            "allowedUsers": allowed_users,
        }
        self.data["keyMetadata"][key_id] = meta
        return key_id

    def add_user_to_group(self, user_id: str, group_id: str) -> None:
        members = self.data["accessControl"].setdefault(group_id, [])
        if user_id not in members:
            members.append(user_id)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps({**self.data, "lastUpdated": "2024-01-01T00:00:00.000Z"}, indent=2))
        return path


@pytest.fixture
def writer() -> LegacyWriter:
    """Two users with keys, two groups, a wildcard member, an orphaned metadata entry."""
    w = LegacyWriter()
    w.set_user_key("alice", "openai", ALICE_OLD_OPENAI)  # overwritten below: its metadata stays, orphaned
    w.set_user_key(
        "alice",
        "openai",
        ALICE_OPENAI,
        name="Alice's OpenAI",
        description="personal",
        last_used="2024-02-03T04:05:06.789Z",
        usage_count=42,
    )
    w.set_user_key("bob", "azure", BOB_AZURE, name="Bob on Azure")
    w.set_user_key("bob", "mistral", BOB_MISTRAL_DIGITS, usage_count=7)
    w.set_group_key("acme", "openai", ACME_OPENAI, shared_by="alice", allowed_users=["alice", "dave"], usage_count=3)
    w.set_group_key("beta", "groq", BETA_GROQ, shared_by=None, allowed_users="all")
    for user_id, group_id in [("bob", "acme"), ("alice", "acme"), ("*", "acme"), ("bob", "beta"), ("carol", "beta")]:
        w.add_user_to_group(user_id, group_id)
    return w


@pytest.fixture
def store_file(writer: LegacyWriter, tmp_path: Path) -> Path:
    return writer.save(tmp_path / "byok-keys.json")


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("byok_import_legacy", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def table_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert LEGACY_KEY not in text and LEGACY_KEY[:64] not in text


def credential_of(**owner: Any) -> Any:
    return vault.open_credential(ProviderKey.objects.get(**owner))


# ---- a full import -----------------------------------------------------------------------------


def test_import_brings_in_users_groups_memberships_and_keys_resealed(store_file: Path, writer: LegacyWriter) -> None:
    out, _ = run(str(store_file), "--legacy-key", LEGACY_KEY)

    alice, bob, carol = (User.objects.get(username=name) for name in ("alice", "bob", "carol"))
    assert not any(user.has_usable_password() for user in (alice, bob, carol))
    assert not User.objects.filter(username__in=["dave", "*", "admin"]).exists()

    key = ProviderKey.objects.get(user=alice, provider="openai")
    assert vault.open_credential(key) == ALICE_OPENAI
    assert ALICE_OPENAI not in key.sealed_secret
    assert (key.name, key.description, key.usage_count, key.status) == ("Alice's OpenAI", "personal", 42, "unverified")
    assert key.created_at.isoformat() == "2023-11-02T10:00:00+00:00"
    assert key.last_used_at is not None and key.last_used_at.isoformat() == "2024-02-03T04:05:06.789000+00:00"
    assert key.last4 == ALICE_OPENAI[-4:]
    assert credential_of(user=bob, provider="azure") == BOB_AZURE
    digits = credential_of(user=bob, provider="mistral")
    assert digits == BOB_MISTRAL_DIGITS and isinstance(digits, str)
    assert ProviderKey.objects.get(user=bob, provider="mistral").name == "Mistral AI Key"

    acme, beta = Organization.objects.get(slug="acme"), Organization.objects.get(slug="beta")
    roles = {
        (m.organization.slug, m.user.username): m.role
        for m in Membership.objects.select_related("user", "organization")
    }
    # acme: alice shared its key (owner); beta: the key was shared by "admin", not a member, so the first member.
    assert roles == {
        ("acme", "alice"): "owner",
        ("acme", "bob"): "member",
        ("beta", "bob"): "owner",
        ("beta", "carol"): "member",
    }
    assert all(m.is_active for m in Membership.objects.all())
    assert User.objects.get(username="carol").default_group == beta

    acme_key = ProviderKey.objects.get(organization=acme, provider="openai")
    assert vault.open_credential(acme_key) == ACME_OPENAI
    assert not acme_key.allow_all_members
    assert [u.username for u in acme_key.allowed_users.all()] == ["alice"]  # dave is no member: dropped
    assert acme_key.usage_count == 3
    beta_key = ProviderKey.objects.get(organization=beta, provider="groq")
    assert beta_key.allow_all_members and vault.open_credential(beta_key) == BETA_GROQ
    assert ProviderKey.objects.count() == 5

    imported = AuditEvent.objects.filter(action="key.imported")
    assert imported.count() == 5
    assert {event.details["legacyKeyId"] for event in imported} == {
        r["keyId"]
        for section in ("userKeys", "groupKeys")
        for owner in writer.data[section].values()
        for r in owner.values()
    }
    assert all(event.actor is None for event in imported)
    assert AuditEvent.objects.filter(action="legacy.imported").count() == 1
    assert AuditEvent.objects.filter(action="membership.imported").count() == 4
    assert AuditEvent.objects.filter(action="user.imported").count() == 3
    assert_no_secret(json.dumps([[e.action, e.target_id, e.details] for e in AuditEvent.objects.all()]))

    assert "3 created (alice, bob, carol)" in out
    assert "3 user key(s) and 2 group key(s) were imported" in out


def test_import_reports_the_wildcard_member_and_orphaned_metadata_without_importing_them(
    store_file: Path, writer: LegacyWriter
) -> None:
    orphan = next(k for k, meta in writer.data["keyMetadata"].items() if k.startswith("byok_alice_openai_"))
    out, _ = run(str(store_file), "--legacy-key", LEGACY_KEY)
    assert '"*"' in out and "acme" in out.split('"*"')[1].splitlines()[0]
    assert orphan in out and "orphaned" in out
    assert "dave" in out  # the allowedUsers name that is no member
    assert not AuditEvent.objects.filter(details__legacyKeyId=orphan).exists()


def test_second_run_imports_nothing_new(store_file: Path) -> None:
    run(str(store_file), "--legacy-key", LEGACY_KEY)
    before = table_counts()
    out, _ = run(str(store_file), "--legacy-key", LEGACY_KEY)
    after = table_counts()
    assert after.pop("groups.AuditEvent") == before.pop("groups.AuditEvent") + 1  # the run's legacy.imported
    assert after == before
    assert "0 user key(s) and 0 group key(s) were imported" in out and "5 already imported" in out
    assert "0 created" in out and "3 already imported" in out


def test_a_deleted_imported_key_is_not_brought_back_by_a_second_run(store_file: Path) -> None:
    run(str(store_file), "--legacy-key", LEGACY_KEY)
    ProviderKey.objects.get(user__username="alice").delete()
    run(str(store_file), "--legacy-key", LEGACY_KEY)
    assert not ProviderKey.objects.filter(user__username="alice").exists()


def test_new_records_in_the_store_are_imported_on_the_next_run(writer: LegacyWriter, tmp_path: Path) -> None:
    run(str(writer.save(tmp_path / "s.json")), "--legacy-key", LEGACY_KEY)
    writer.set_user_key("carol", "groq", BETA_GROQ)
    out, _ = run(str(writer.save(tmp_path / "s.json")), "--legacy-key", LEGACY_KEY)
    assert credential_of(user__username="carol", provider="groq") == BETA_GROQ
    assert "1 user key(s) and 0 group key(s) were imported" in out


def test_a_removed_imported_member_is_not_added_back_by_a_second_run(store_file: Path) -> None:
    run(str(store_file), "--legacy-key", LEGACY_KEY)
    Membership.objects.get(organization__slug="acme", user__username="bob").delete()
    run(str(store_file), "--legacy-key", LEGACY_KEY)
    assert not Membership.objects.filter(organization__slug="acme", user__username="bob").exists()


def test_group_without_members_and_key_without_metadata_are_imported_and_reported(tmp_path: Path) -> None:
    w = LegacyWriter()
    key_id = w.set_group_key("solo", "openai", ACME_OPENAI, shared_by="alice", allowed_users="all")
    del w.data["keyMetadata"][key_id]
    out, _ = run(str(w.save(tmp_path / "s.json")), "--legacy-key", LEGACY_KEY)
    key = ProviderKey.objects.get(organization__slug="solo")
    # Without metadata the Node service let nobody use the key; it stays so until an owner shares it.
    assert (key.name, key.allow_all_members, key.allowed_users.count()) == ("OpenAI key", False, 0)
    assert not Membership.objects.exists() and not User.objects.exists()
    assert "groups without members (add an owner in the admin): solo" in out
    assert (
        f"keys without metadata (default name; group keys usable by nobody, as in the legacy service): {key_id}" in out
    )


def test_path_defaults_to_the_byok_storage_path_setting(store_file: Path) -> None:
    with override_settings(BYOK_STORAGE_PATH=str(store_file)):
        run("--legacy-key", LEGACY_KEY)
    assert ProviderKey.objects.count() == 5


def test_missing_store_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"No legacy store at .*nowhere\.json"):
        run(str(tmp_path / "nowhere.json"), "--legacy-key", LEGACY_KEY)


# ---- all or nothing ----------------------------------------------------------------------------


def test_wrong_legacy_key_names_a_record_and_writes_nothing(store_file: Path) -> None:
    before = table_counts()
    with pytest.raises(
        CommandError, match=r"userKeys\[\"alice\"\]\[\"openai\"\] \(keyId byok_alice_openai_\d+\) cannot be decrypted"
    ):
        run(str(store_file), "--legacy-key", WRONG_KEY)
    assert table_counts() == before


def _wrong_key_that_passes_the_padding_check(encrypted: str) -> str:
    """A wrong key under which ``encrypted`` still has valid PKCS#7 padding (about 1 key in 256)."""
    iv_hex, ct_hex = encrypted.split(":")
    for _ in range(100_000):
        candidate = os.urandom(32)
        decryptor = Cipher(algorithms.AES(candidate), modes.CBC(bytes.fromhex(iv_hex))).decryptor()
        padded = decryptor.update(bytes.fromhex(ct_hex)) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        try:
            unpadder.update(padded) + unpadder.finalize()
        except ValueError:
            continue
        return candidate.hex()
    raise AssertionError("no such key found")


@pytest.mark.parametrize("provider,secret", [("openai", ALICE_OPENAI), ("azure", BOB_AZURE)])
def test_wrong_legacy_key_is_caught_even_when_the_padding_check_passes(
    tmp_path: Path, provider: str, secret: Any
) -> None:
    w = LegacyWriter()
    key_id = w.set_user_key("alice", provider, secret)
    wrong = _wrong_key_that_passes_the_padding_check(w.data["userKeys"]["alice"][provider]["encryptedKey"])
    path = w.save(tmp_path / "one.json")
    before = table_counts()
    with pytest.raises(CommandError, match=key_id) as caught:
        run(str(path), "--legacy-key", wrong)
    assert_no_secret(str(caught.value))
    assert table_counts() == before


def test_one_tampered_record_among_good_ones_stops_the_import_naming_it(store_file: Path) -> None:
    data = json.loads(store_file.read_text())
    record = data["userKeys"]["bob"]["azure"]
    iv_hex, ct_hex = record["encryptedKey"].split(":")
    # Flip the top bit of the first plaintext byte ('{' becomes 0xFB, which is not UTF-8).
    record["encryptedKey"] = f"{int(iv_hex[:2], 16) ^ 0x80:02x}{iv_hex[2:]}:{ct_hex}"
    store_file.write_text(json.dumps(data))
    before = table_counts()
    with pytest.raises(
        CommandError, match=rf'userKeys\["bob"\]\["azure"\] \(keyId {record["keyId"]}\) cannot be decrypted'
    ):
        run(str(store_file), "--legacy-key", LEGACY_KEY)
    assert table_counts() == before


def test_truncated_ciphertext_stops_the_import_naming_the_record(store_file: Path) -> None:
    data = json.loads(store_file.read_text())
    record = data["groupKeys"]["beta"]["groq"]
    record["encryptedKey"] = record["encryptedKey"][:-2]
    store_file.write_text(json.dumps(data))
    with pytest.raises(CommandError, match=rf'groupKeys\["beta"\]\["groq"\] \(keyId {record["keyId"]}\)'):
        run(str(store_file), "--legacy-key", LEGACY_KEY)
    assert ProviderKey.objects.count() == 0 and User.objects.count() == 0


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"userKeys": {', "not valid JSON"),
        ("[]", "not a JSON object"),
        ('{"userKeys": {}, "keyMetadata": {}}', "no 'groupKeys', 'accessControl' section"),
        (
            '{"userKeys": [], "groupKeys": {}, "keyMetadata": {}, "accessControl": {}}',
            "'userKeys' section is not an object",
        ),
        (
            '{"userKeys": {"alice": {"openai": {"keyId": "k1", "encryptedKey": "00:00"}}}, "groupKeys": {}, '
            '"keyMetadata": {}, "accessControl": {}}',
            r'userKeys\["alice"\]\["openai"\] \(keyId k1\): addedAt is not an ISO timestamp',
        ),
        (
            '{"userKeys": {}, "groupKeys": {}, "keyMetadata": {}, "accessControl": {"acme": "alice"}}',
            "not a list of user ids",
        ),
    ],
)
def test_corrupt_store_is_a_clear_error_and_writes_nothing(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "corrupt.json"
    path.write_text(content)
    before = table_counts()
    with pytest.raises(CommandError, match=message):
        run(str(path), "--legacy-key", LEGACY_KEY)
    assert table_counts() == before


def test_unknown_provider_stops_the_import_naming_the_record(tmp_path: Path) -> None:
    w = LegacyWriter()
    w.NAMES = {**w.NAMES, "gpt-magic": "Magic"}
    w.set_user_key("alice", "openai", ALICE_OPENAI)
    key_id = w.set_user_key("alice", "gpt-magic", "some-key-value-1234567890")
    with pytest.raises(CommandError, match=rf"{key_id}\): unknown provider id 'gpt-magic'"):
        run(str(w.save(tmp_path / "s.json")), "--legacy-key", LEGACY_KEY)
    assert ProviderKey.objects.count() == 0


def test_key_of_a_discontinued_provider_stops_the_import_naming_the_record(tmp_path: Path) -> None:
    w = LegacyWriter()
    w.NAMES = {**w.NAMES, "anyscale": "Anyscale"}
    key_id = w.set_user_key("alice", "anyscale", "esecret_" + "a" * 30)
    with pytest.raises(
        CommandError, match=rf"{key_id}\) decrypts to something that is not a usable Anyscale.*discontinued"
    ):
        run(str(w.save(tmp_path / "s.json")), "--legacy-key", LEGACY_KEY)
    assert User.objects.count() == 0


def test_legacy_key_must_be_64_hex_characters_and_is_never_echoed(store_file: Path) -> None:
    with pytest.raises(CommandError, match="64 or more hexadecimal") as caught:
        run(str(store_file), "--legacy-key", "not-a-key-but-a-secret-anyway")
    assert "not-a-key-but-a-secret-anyway" not in str(caught.value)


def test_existing_different_key_of_the_same_owner_is_a_conflict_and_nothing_is_written(
    store_file: Path, tmp_path: Path
) -> None:
    alice = create_user("alice.smith")
    key = ProviderKey(key_id="byok_user_openai_0123456789abcdef", user=alice, provider="openai")
    vault.seal_credential(key, "sk-proj-" + "SomethingElse0" * 3)
    key.save()
    user_map = tmp_path / "map.json"
    user_map.write_text(json.dumps({"alice": "alice.smith"}))
    before = table_counts()
    with pytest.raises(
        CommandError,
        match=r"user 'alice.smith' already has a different openai key here \(keyId byok_user_openai_0123456789abcdef\)",
    ):
        run(str(store_file), "--legacy-key", LEGACY_KEY, "--user-map", str(user_map))
    assert table_counts() == before


def test_existing_same_key_of_the_same_owner_is_skipped_as_already_present(store_file: Path, tmp_path: Path) -> None:
    alice = create_user("alice.smith")
    key = ProviderKey(key_id="byok_user_openai_0123456789abcdef", user=alice, provider="openai")
    vault.seal_credential(key, ALICE_OPENAI)
    key.save()
    user_map = tmp_path / "map.json"
    user_map.write_text(json.dumps({"alice": "alice.smith"}))
    out, _ = run(str(store_file), "--legacy-key", LEGACY_KEY, "--user-map", str(user_map))
    assert "1 already present here with the same secret" in out
    assert ProviderKey.objects.get(user=alice).key_id == "byok_user_openai_0123456789abcdef"


def test_existing_user_of_the_same_name_is_never_taken_over_without_a_map(store_file: Path) -> None:
    create_user("alice")
    before = table_counts()
    with pytest.raises(CommandError, match=r"A user named 'alice' already exists here.*--user-map"):
        run(str(store_file), "--legacy-key", LEGACY_KEY)
    assert table_counts() == before


def test_existing_group_of_the_same_id_stops_the_import(store_file: Path) -> None:
    Organization.objects.create(slug="acme", name="Someone else's Acme")
    with pytest.raises(CommandError, match=r"A group 'acme' already exists here"):
        run(str(store_file), "--legacy-key", LEGACY_KEY)
    assert ProviderKey.objects.count() == 0


def test_legacy_group_id_that_cannot_be_a_group_id_stops_the_import_naming_it(tmp_path: Path) -> None:
    w = LegacyWriter()
    w.set_group_key("Team Rocket", "openai", ACME_OPENAI, shared_by="alice")
    with pytest.raises(CommandError, match="Legacy group id 'Team Rocket' cannot be a group id here"):
        run(str(w.save(tmp_path / "s.json")), "--legacy-key", LEGACY_KEY)
    assert Organization.objects.count() == 0


# ---- --user-map --------------------------------------------------------------------------------


def test_user_map_puts_legacy_keys_and_memberships_on_existing_accounts(store_file: Path, tmp_path: Path) -> None:
    alice = create_user("alice.smith")
    user_map = tmp_path / "map.json"
    user_map.write_text(json.dumps({"alice": "alice.smith"}))
    out, _ = run(str(store_file), "--legacy-key", LEGACY_KEY, "--user-map", str(user_map))
    assert not User.objects.filter(username="alice").exists()
    assert User.objects.get(pk=alice.pk).has_usable_password()  # the account keeps its password
    assert credential_of(user=alice, provider="openai") == ALICE_OPENAI
    assert Membership.objects.get(user=alice, organization__slug="acme").role == "owner"
    acme_key = ProviderKey.objects.get(organization__slug="acme")
    assert list(acme_key.allowed_users.all()) == [alice]
    assert "alice -> alice.smith" in out
    assert AuditEvent.objects.get(action="user.imported", target_id="alice.smith").details == {
        "legacyId": "alice",
        "created": False,
    }
    # The mapping is remembered: a second run without it imports nothing new.
    before = table_counts()
    run(str(store_file), "--legacy-key", LEGACY_KEY)
    assert table_counts()["byok_keys.ProviderKey"] == before["byok_keys.ProviderKey"]
    assert not User.objects.filter(username="alice").exists()


def test_user_map_onto_an_unknown_username_is_an_error(store_file: Path, tmp_path: Path) -> None:
    user_map = tmp_path / "map.json"
    user_map.write_text(json.dumps({"alice": "nobody-here"}))
    before = table_counts()
    with pytest.raises(CommandError, match="maps legacy user 'alice' to 'nobody-here', which is not a user here"):
        run(str(store_file), "--legacy-key", LEGACY_KEY, "--user-map", str(user_map))
    assert table_counts() == before


def test_user_map_naming_a_legacy_id_the_store_lacks_is_an_error(store_file: Path, tmp_path: Path) -> None:
    create_user("alice.smith")
    user_map = tmp_path / "map.json"
    user_map.write_text(json.dumps({"alcie": "alice.smith"}))
    with pytest.raises(CommandError, match="legacy user id\\(s\\) the store does not have: alcie"):
        run(str(store_file), "--legacy-key", LEGACY_KEY, "--user-map", str(user_map))


def test_user_map_that_is_not_a_json_object_of_names_is_an_error(store_file: Path, tmp_path: Path) -> None:
    user_map = tmp_path / "map.json"
    user_map.write_text(json.dumps(["alice"]))
    with pytest.raises(CommandError, match="must be a JSON object of legacy user id -> username"):
        run(str(store_file), "--legacy-key", LEGACY_KEY, "--user-map", str(user_map))


# ---- --dry-run ---------------------------------------------------------------------------------


def test_dry_run_checks_everything_and_writes_nothing(store_file: Path) -> None:
    before = table_counts()
    out, _ = run(str(store_file), "--legacy-key", LEGACY_KEY, "--dry-run")
    assert table_counts() == before
    assert "3 user key(s) and 2 group key(s) would be imported" in out
    assert "Dry run: nothing was written." in out


def test_dry_run_with_the_wrong_key_fails_like_the_import(store_file: Path) -> None:
    with pytest.raises(CommandError, match="cannot be decrypted"):
        run(str(store_file), "--legacy-key", WRONG_KEY, "--dry-run")


# ---- no secret escapes -------------------------------------------------------------------------


def test_no_secret_in_output_logs_or_errors(store_file: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    texts = list(run(str(store_file), "--legacy-key", LEGACY_KEY, "--dry-run"))
    texts += run(str(store_file), "--legacy-key", LEGACY_KEY)
    texts += run(str(store_file), "--legacy-key", LEGACY_KEY)
    data = json.loads(store_file.read_text())
    data["groupKeys"]["beta"]["groq"]["encryptedKey"] = legacy_encrypt("not a groq key at all")
    store_file.write_text(json.dumps(data))
    for key in (LEGACY_KEY, WRONG_KEY):
        with pytest.raises(CommandError) as caught:
            run(str(store_file), "--legacy-key", key)
        texts.append(str(caught.value))
    texts.append(caplog.text)
    for text in texts:
        assert_no_secret(text)


# ---- the reader on its own ---------------------------------------------------------------------


def test_reader_decrypts_what_the_node_service_wrote(store_file: Path) -> None:
    document = legacy.parse_document(store_file.read_bytes())
    store = legacy.decrypt_store(document, cipher_key=legacy.cipher_key_from_hex(LEGACY_KEY))
    by_owner = {(k.ref.owner_id, k.ref.provider): k for k in store.keys}
    assert by_owner["bob", "azure"].credential == BOB_AZURE
    assert by_owner["acme", "openai"].allowed_users == ("alice", "dave")
    assert by_owner["beta", "groq"].allowed_users is None
    assert by_owner["beta", "groq"].shared_by == "admin"
    assert store.members == {"acme": ("bob", "alice"), "beta": ("bob", "carol")}
    assert store.wildcard_groups == ("acme",)
    assert len(store.orphaned_metadata) == 1
    assert all(secret not in repr(store) for secret in SECRETS)


@pytest.mark.parametrize("allowed,expected", [("all", None), (["x", "y"], ("x", "y")), ("nobody", ()), (None, ())])
def test_group_key_allowed_users_read_like_the_node_service(
    tmp_path: Path, allowed: Any, expected: tuple[str, ...] | None
) -> None:
    w = LegacyWriter()
    w.set_group_key("acme", "openai", ACME_OPENAI, shared_by="x", allowed_users=allowed)
    document = legacy.parse_document(w.save(tmp_path / "s.json").read_bytes())
    (key,) = legacy.decrypt_store(document, cipher_key=legacy.cipher_key_from_hex(LEGACY_KEY)).keys
    assert key.allowed_users == expected


def test_decrypted_text_that_is_not_printable_is_refused_as_a_wrong_key() -> None:
    cipher_key = legacy.cipher_key_from_hex(LEGACY_KEY)
    assert legacy.decrypt_value(legacy_encrypt(ALICE_OPENAI), cipher_key=cipher_key) == ALICE_OPENAI
    for garbage in ("\x00\x07sk-proj-abc", "\u202esk-proj-abc", " \n "):
        with pytest.raises(ValueError):
            legacy.decrypt_value(legacy_encrypt(garbage), cipher_key=cipher_key)
