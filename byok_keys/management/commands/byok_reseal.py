from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from byok_keys.crypto import DecryptionError
from byok_keys.keyring import get_keyring
from byok_keys.models import ProviderKey
from byok_keys.services import provider_key_reseal


class Command(BaseCommand):
    help = (
        "Finish a master-key rotation: re-encrypt every stored key under BYOK_ENCRYPTION_KEY. Afterwards the "
        "old keys can be removed from BYOK_PREVIOUS_ENCRYPTION_KEYS."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        keyring = get_keyring()
        resealed = failed = 0
        for key in ProviderKey.objects.order_by("pk").iterator():
            try:
                resealed += provider_key_reseal(key=key)
            except DecryptionError as exc:
                failed += 1
                self.stderr.write(f"{key.key_id}: {exc}")
        self.stdout.write(f"Re-encrypted {resealed} key(s) under master key {keyring.primary_id}; {failed} failed.")
        if failed:
            raise SystemExit(1)
