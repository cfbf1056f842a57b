from __future__ import annotations

import sys
from collections import Counter
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from byok_keys import services
from byok_keys.models import ProviderKey
from providers.registry import REGISTRY
from providers.validation import KeyStatus

# The scheduled check needs two invalid answers in a row before it disables a key.
STRIKES = 2


class Command(BaseCommand):
    help = (
        "Re-check stored provider keys with their providers (made for a cron job). A key found invalid on "
        "two checks in a row becomes 'invalid' and is skipped when resolving keys; every status change is "
        "an audit event."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", help="Only keys of this provider id.")
        parser.add_argument(
            "--older-than",
            type=float,
            metavar="DAYS",
            help="Only keys not checked for at least DAYS days (never-checked keys included).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Check the keys and report; write nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        keys = ProviderKey.objects.exclude(status=ProviderKey.Status.REVOKED).order_by("pk")
        if options["provider"]:
            if options["provider"] not in REGISTRY:
                raise CommandError(f"Unknown provider '{options['provider']}'. Valid: {', '.join(REGISTRY)}.")
            keys = keys.filter(provider=options["provider"])
        if options["older_than"] is not None:
            cutoff = timezone.now() - timedelta(days=options["older_than"])
            keys = keys.filter(Q(last_validated_at__isnull=True) | Q(last_validated_at__lt=cutoff))
        selected = list(keys.select_related("user", "organization"))
        dry_run: bool = options["dry_run"]
        results: Counter[str] = Counter()
        changes: list[str] = []
        progress = tqdm(selected, desc="Checking keys", unit="key", disable=not sys.stderr.isatty(), file=sys.stderr)
        for key in progress:
            result = services.stored_key_validate(key=key)
            results[result.status.value] += 1
            if dry_run:
                if result.status is not KeyStatus.UNVERIFIED and result.status.value != key.status:
                    changes.append(f"{key.key_id}: {key.status} -> {result.status.value} (would record)")
                continue
            before = key.status
            updated = services.provider_key_record_validation(
                key=key, result=result, actor=None, strikes_to_invalidate=STRIKES
            )
            if updated.status != before:
                changes.append(f"{key.key_id}: {before} -> {updated.status} ({result.reason})")
            elif result.status is KeyStatus.INVALID:
                changes.append(f"{key.key_id}: found invalid once ({result.reason}); invalid if the next check agrees")
        summary = ", ".join(f"{count} {status}" for status, count in sorted(results.items())) or "nothing to check"
        prefix = "Dry run: " if dry_run else ""
        self.stdout.write(f"{prefix}checked {len(selected)} key(s): {summary}.")
        for line in changes:
            self.stdout.write(f"  {line}")
        if not changes:
            self.stdout.write("  No status changes.")
