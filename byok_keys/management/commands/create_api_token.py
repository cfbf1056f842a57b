from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from byok_keys.services import api_token_create
from groups.models import User


class Command(BaseCommand):
    help = "Create an API token for USERNAME and print it (last line of output). It is shown only once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli", help="A label for the token (default: cli).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named '{options['username']}'.")
        if not user.is_active:
            raise CommandError(f"User '{user.username}' is inactive.")
        token, plaintext = api_token_create(user=user, name=options["name"])
        self.stderr.write(f"Created API token {token.prefix}… for {user.username}; it will not be shown again.")
        self.stdout.write(plaintext)
