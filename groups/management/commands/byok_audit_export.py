"""``manage.py byok_audit_export --since ISO [--until ISO] [--output FILE]``: the audit log as JSON lines
for a SIEM, one event per line in chain order (the API's fields plus ``sequence``, ``prevHash`` and
``hash``, so the receiving side can check the chain too). Streams: memory stays flat."""

from __future__ import annotations

import json
from io import TextIOBase
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from common.errors import ServiceError
from groups.selectors import audit_events_between
from groups.serializers import AuditExportSerializer, AuditQueryInput


class Command(BaseCommand):
    help = "Write audit events as JSON lines (one event per line) for a SIEM."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="ISO 8601 date or time (UTC unless it says otherwise).")
        parser.add_argument("--until", default=None, help="ISO 8601 date or time, exclusive (default: now).")
        parser.add_argument("--output", default="-", help="File to write (default: standard output).")
        parser.add_argument("--batch-size", type=int, default=2000, help="Events read per query (default 2000).")

    def handle(self, *args: Any, **options: Any) -> None:
        since = self._moment(options["since"], "--since")
        until = self._moment(options["until"], "--until") if options["until"] else None
        if until is not None and until <= since:
            raise CommandError("--until must be later than --since.")
        events = audit_events_between(since=since, until=until, batch_size=max(1, options["batch_size"]))
        if options["output"] == "-":
            count = self._write(events, self.stdout)
        else:
            with open(options["output"], "w", encoding="utf-8") as out:
                count = self._write(events, out)
        self.stderr.write(f"Exported {count} events.")

    @staticmethod
    def _moment(text: str, option: str) -> Any:
        field = AuditQueryInput().fields["since"]
        try:
            return field.to_internal_value(text)
        except ServiceError as exc:
            raise CommandError(f"{option}: {exc.message}") from None

    @staticmethod
    def _write(events: Any, out: TextIOBase) -> int:
        count = 0
        for event in events:
            out.write(json.dumps(AuditExportSerializer(event).data, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
        out.flush()
        return count
