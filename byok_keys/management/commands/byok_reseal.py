"""Finish a master-key rotation: re-encrypt every stored key under the current master key.

Batched with flat memory (ids are read a page at a time; each page is re-sealed in one short
transaction under its rows' locks, so it is safe while the service serves, and audited with one
append to the chain), resumable (a key already on the current master key is skipped, so an
interrupted run simply continues), with a progress bar on a terminal and a summary.
``--check`` changes nothing: it counts the keys each master key seals and lists undecryptable ones.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from tqdm import tqdm

from byok_keys import vault
from byok_keys.keyring import get_keyring
from byok_keys.models import ProviderKey
from byok_keys.services import provider_key_mark_undecryptable, provider_keys_reseal

BATCH = 500


def _id_pages() -> Iterator[list[int]]:
    """Every key's id, ``BATCH`` at a time in id order (flat memory, no long-lived cursor)."""
    last = 0
    while True:
        page = list(ProviderKey.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:BATCH])
        if not page:
            return
        yield page
        last = page[-1]


def _batches() -> Iterator[ProviderKey]:
    """Every key, ``BATCH`` at a time by primary key (``--check`` reads them, changing nothing)."""
    for page in _id_pages():
        yield from ProviderKey.objects.filter(pk__in=page).order_by("pk")


class Command(BaseCommand):
    help = (
        "Finish a master-key rotation: re-encrypt every stored key under BYOK_ENCRYPTION_KEY. Afterwards the "
        "old keys can be removed from BYOK_PREVIOUS_ENCRYPTION_KEYS. --check only reports (exit 1 while any "
        "key is not on the current master key or cannot be decrypted)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="count keys per master key; change nothing")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        keyring = get_keyring()
        total = ProviderKey.objects.count()
        progress = tqdm(total=total, unit="key", disable=not sys.stderr.isatty(), file=sys.stderr)
        per_master: Counter[str] = Counter()
        undecryptable: list[str] = []
        resealed = 0
        if check:
            for key in _batches():
                progress.update(1)
                per_master[vault.sealed_by(key)] += 1
                if not vault.can_open(key):
                    undecryptable.append(key.key_id)
        else:
            for page in _id_pages():
                outcome = provider_keys_reseal(key_ids=page)
                resealed += outcome.resealed
                for key in outcome.undecryptable:
                    undecryptable.append(key.key_id)
                    provider_key_mark_undecryptable(key=key)
                progress.update(len(page))
        progress.close()
        current = keyring.primary_id
        if check:
            for master, count in sorted(per_master.items(), key=lambda item: item[0] != current):
                label = "current" if master == current else "old: re-seal these"
                self.stdout.write(f"master key {master} ({label}): {count} key(s)")
            stale = sum(count for master, count in per_master.items() if master != current)
            for key_id in undecryptable:
                self.stdout.write(f"undecryptable: {key_id}")
            self.stdout.write(
                f"{total} key(s); {stale} not on the current master key {current}; {len(undecryptable)} undecryptable."
            )
            if stale or undecryptable:
                raise SystemExit(1)
            return
        for key_id in undecryptable:
            self.stderr.write(f"{key_id}: cannot be decrypted with the configured master keys (marked undecryptable)")
        self.stdout.write(
            f"Re-encrypted {resealed} key(s) under master key {current}; {total - resealed - len(undecryptable)} "
            f"already on it; {len(undecryptable)} failed."
        )
        if undecryptable:
            raise SystemExit(1)
