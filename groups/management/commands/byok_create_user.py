"""``manage.py byok_create_user USERNAME [--email E] [--staff] [--base-url URL]``: onboard a person
without a shell into the database. Prints a one-time link where they choose their own password."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django.utils.timesince import timeuntil

from common.errors import ServiceError
from groups.services import user_onboard

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = (
        "Create an active user without a password and print a one-time link (last line of output) where "
        "they set their password. The link stops working once used."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="", help="The user's email address (for password resets).")
        parser.add_argument("--staff", action="store_true", help="Let the user sign in to the admin.")
        parser.add_argument(
            "--base-url",
            default=None,
            help=f"Where the service is reached (default: the BYOK_PUBLIC_URL setting, else {DEFAULT_BASE_URL}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base_url = options["base_url"] or getattr(settings, "BYOK_PUBLIC_URL", "") or DEFAULT_BASE_URL
        try:
            user, path = user_onboard(
                actor=None, username=options["username"], email=options["email"], staff=options["staff"]
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        valid_for = timeuntil(timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1))
        self.stderr.write(
            f"Created user {user.username}{' (staff)' if user.is_staff else ''}. Send them this link to set "
            f"their password; it works once, within {valid_for.replace(chr(0xA0), ' ')}:"
        )
        self.stdout.write(base_url.rstrip("/") + path)
