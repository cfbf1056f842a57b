"""A key's use as the vault shows it: ``usageCount`` and ``lastUsedAt`` in the API, the admin's columns.

The calls are counted by the inference ledger (``gateway.usage``): what was rolled up onto the key
(``ProviderKey.usage_count`` and ``last_used_at``) plus the calls recorded since. The gateway sits
above the vault, so the vault cannot import it: the gateway installs its annotation when it starts
(``GatewayConfig.ready``), as ``groups`` tells the vault about leaving members with a signal. Without
it a key shows what was rolled up onto it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import F, QuerySet

from byok_keys.models import ProviderKey

UsageAnnotation = Callable[[QuerySet[ProviderKey]], QuerySet[ProviderKey]]


def _rolled_up(keys: QuerySet[ProviderKey]) -> QuerySet[ProviderKey]:
    # The two are declared on ProviderKey, for its readers' types.
    return keys.annotate(  # type: ignore[no-redef]
        current_usage_count=F("usage_count"), current_last_used_at=F("last_used_at")
    )


_annotation: UsageAnnotation = _rolled_up


def key_usage_install(annotation: UsageAnnotation) -> None:
    """Make ``with_usage`` use ``annotation``, which sets ``current_usage_count`` and
    ``current_last_used_at`` on each key in the query that loads the keys."""
    global _annotation
    _annotation = annotation


def with_usage(keys: QuerySet[ProviderKey]) -> QuerySet[ProviderKey]:
    """``keys`` with each key's ``current_usage_count`` and ``current_last_used_at`` (no query per key)."""
    return _annotation(keys)
