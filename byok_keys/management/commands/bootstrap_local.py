from __future__ import annotations

import secrets
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from byok_keys.services import api_token_create
from groups.models import User


class Command(BaseCommand):
    help = (
        "Local settings only: on the first run, create a local admin account and an API token and print "
        "them once. Does nothing when any user exists."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="Where the server will listen.")

    def handle(self, *args: Any, **options: Any) -> None:
        if not getattr(settings, "BYOK_LOCAL_BOOTSTRAP", False):
            raise CommandError("bootstrap_local only runs with config.settings.local.")
        if User.objects.exists():
            return
        url = options["url"].rstrip("/")
        password = secrets.token_urlsafe(12)
        user = User.objects.create_superuser(username="admin", email="admin@localhost", password=password)
        _, token = api_token_create(user=user, name="local bootstrap")
        self.stdout.write(
            "\n".join(
                [
                    "",
                    "First run: created a local admin account and an API token (shown only this once).",
                    f"  Admin:     {url}/admin/   user: admin   password: {password}",
                    f"  API token: {token}",
                    f"  Try:       curl -H 'Authorization: Bearer {token}' {url}/api/byok/keys",
                    "",
                ]
            )
        )
