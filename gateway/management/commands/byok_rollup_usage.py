"""``manage.py byok_rollup_usage``: roll the usage ledger's new records into the totals.

Meant for cron, every minute. Reads are exact without it (they add the records not rolled up yet), but
they stay quick only while that tail is short. Never waits for a roll-up already running elsewhere."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from gateway.usage import rollup_usage


class Command(BaseCommand):
    help = "Roll the usage records made since the last run into the usage totals and the keys' counts."

    def handle(self, *args: Any, **options: Any) -> None:
        result = rollup_usage()
        if result.busy:
            self.stdout.write("Another roll-up is running; nothing done.")
            return
        self.stdout.write(f"Rolled up {result.calls} calls; usage records up to #{result.watermark} are in the totals.")
