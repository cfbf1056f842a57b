"""``manage.py byok_audit_verify``: check the audit log's hash chain from the first event to the last.

Exits 0 with "N events, chain intact" (and the head, worth keeping outside the database), or 1 naming
the first broken link: an edited, deleted or inserted event."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from groups.audit import audit_chain_verify
from groups.models import AuditChainHead


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exits non-zero naming the first edited, deleted or inserted event."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=2000, help="Events read per query (default 2000).")

    def handle(self, *args: Any, **options: Any) -> None:
        head = AuditChainHead.objects.filter(pk=1).values_list("sequence", flat=True).first() or 0
        with tqdm(
            total=head, desc="Verifying", unit="event", disable=not sys.stderr.isatty(), file=sys.stderr, leave=False
        ) as bar:
            report = audit_chain_verify(batch_size=max(1, options["batch_size"]), progress=bar.update)
        if not report.intact:
            raise CommandError(f"Audit chain broken after {report.events} intact events: {report.problem}")
        self.stdout.write(
            f"{report.events} events, chain intact (head #{report.head_sequence}, hash {report.head_hash})."
        )
