"""System checks: a malformed master key is a start-up error that says what is wrong."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from byok_keys.crypto import MasterKeyError, parse_master_key


@checks.register(checks.Tags.security, deploy=False)
def check_encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    errors: list[checks.CheckMessage] = []
    try:
        parse_master_key(settings.BYOK_ENCRYPTION_KEY)
    except MasterKeyError as exc:
        errors.append(
            checks.Error(
                str(exc),
                hint="Set BYOK_ENCRYPTION_KEY or BYOK_ENCRYPTION_KEY_FILE; see .env.example.",
                id="byok.E001",
            )
        )
    for index, value in enumerate(settings.BYOK_PREVIOUS_ENCRYPTION_KEYS):
        try:
            parse_master_key(value, name=f"BYOK_PREVIOUS_ENCRYPTION_KEYS entry {index + 1}")
        except MasterKeyError as exc:
            errors.append(checks.Error(str(exc), id="byok.E002"))
    return errors
