"""A key's use as the vault shows it: ``usageCount`` and ``lastUsedAt`` in the API, the admin's columns.

The calls are counted by the inference ledger (``gateway.usage``): what was rolled up onto the key
(``ProviderKey.usage_count`` and ``last_used_at``, up to usage record ``usage_rolled_up_to``) plus the
calls recorded since. The gateway sits above the vault, so the vault cannot import it: the gateway
installs its reader when it starts (``GatewayConfig.ready``), as ``groups`` tells the vault about
leaving members with a signal. Without it a key shows what was rolled up onto it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from byok_keys.models import ProviderKey


@dataclass(frozen=True)
class KeyUsage:
    calls: int
    last_used_at: datetime | None


KeyUsageReader = Callable[[Sequence[ProviderKey]], dict[int, KeyUsage]]


def _rolled_up(keys: Sequence[ProviderKey]) -> dict[int, KeyUsage]:
    return {key.pk: KeyUsage(key.usage_count, key.last_used_at) for key in keys}


_reader: KeyUsageReader = _rolled_up


def key_usage_reader_install(reader: KeyUsageReader) -> None:
    """Make ``with_usage`` read the keys' use with ``reader``: key pk -> its use, from the loaded keys'
    rolled-up fields and one query for all of them."""
    global _reader
    _reader = reader


def with_usage(keys: Iterable[ProviderKey]) -> list[ProviderKey]:
    """``keys`` with ``current_usage_count`` and ``current_last_used_at`` set on each: one query for all
    of them, none per key."""
    loaded = list(keys)
    usage = _reader(loaded)
    for key in loaded:
        key.current_usage_count, key.current_last_used_at = usage[key.pk].calls, usage[key.pk].last_used_at
    return loaded
