from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from byok_keys import importer, legacy
from common.errors import ServiceError

T = TypeVar("T")
DEFAULT_PATH = "data/byok-keys.json"


class Command(BaseCommand):
    help = (
        "Import the Node.js BYOK store (LLM-Runner-Router's byok-keys.json): users' keys, group keys, "
        "allowedUsers, memberships, names, descriptions, dates and usage counts, re-sealed with this service's "
        "encryption. All or nothing; a second run imports nothing new. PATH defaults to the BYOK_STORAGE_PATH "
        f"setting, else {DEFAULT_PATH}."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", metavar="PATH", help="The legacy store file.")
        parser.add_argument(
            "--legacy-key",
            required=True,
            metavar="HEX",
            help="The legacy service's BYOK_ENCRYPTION_KEY (64+ hex characters; the first 64 are used). Never printed.",
        )
        parser.add_argument(
            "--user-map",
            metavar="FILE",
            help='A JSON file mapping legacy user ids onto existing usernames, e.g. {"llm_abc123": "alice"}.',
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Read, decrypt and check everything; print the summary; write nothing.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"] or getattr(settings, "BYOK_STORAGE_PATH", DEFAULT_PATH))
        try:
            cipher_key = legacy.cipher_key_from_hex(options["legacy_key"])
            user_map = _read_user_map(options["user_map"])
            document = legacy.parse_document(_read(path, what="legacy store"))
            store = legacy.decrypt_store(document, cipher_key=cipher_key, progress=self._progress)
            report = importer.legacy_store_import(
                store=store, user_map=user_map, source=str(path), dry_run=options["dry_run"], progress=self._progress
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        for line in _summary(report):
            self.stdout.write(line)

    def _progress(self, items: Sequence[T], *, desc: str) -> Iterable[T]:
        # Only on a terminal, so logs and captured output carry the summary alone.
        return tqdm(items, desc=desc, unit="key", disable=not sys.stderr.isatty(), file=sys.stderr, leave=False)


def _read(path: Path, *, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CommandError(f"No {what} at {path}.") from None
    except OSError as exc:
        raise CommandError(f"Cannot read the {what} at {path}: {exc.strerror}.") from None


def _read_user_map(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    try:
        data = json.loads(_read(Path(path), what="--user-map file").decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CommandError(f"--user-map {path} is not a JSON file.") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in data.items()):
        raise CommandError(
            f'--user-map {path} must be a JSON object of legacy user id -> username, e.g. {{"llm_abc": "alice"}}.'
        )
    return data


def _names(items: Iterable[str], limit: int = 20) -> str:
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def _summary(report: importer.ImportReport) -> list[str]:
    verb = "would be" if report.dry_run else "were"
    lines = [f"{'Dry run of the import' if report.dry_run else 'Imported'} {report.source}:"]
    lines.append(
        f"  users: {len(report.users_created)} created"
        + (f" ({_names(report.users_created)})" if report.users_created else "")
        + f", {len(report.users_mapped)} mapped onto existing accounts"
        + (
            f" ({_names(f'{legacy_id} -> {username}' for legacy_id, username in report.users_mapped)})"
            if report.users_mapped
            else ""
        )
        + f", {len(report.users_known)} already imported"
    )
    lines.append(
        f"  groups: {len(report.groups_created)} created"
        + (f" ({_names(report.groups_created)})" if report.groups_created else "")
        + f", {len(report.groups_known)} already imported"
    )
    lines.append(
        f"  memberships: {len(report.memberships_created)} added"
        + (
            f" ({_names(f'{g}/{u} {role}' for g, u, role in report.memberships_created)})"
            if report.memberships_created
            else ""
        )
        + f", {report.memberships_known} already there"
    )
    lines.append(
        f"  keys: {len(report.user_keys)} user key(s) and {len(report.group_keys)} group key(s) {verb} imported "
        f"(status unverified: not checked with the providers), {len(report.keys_already_imported)} already "
        f"imported, {len(report.keys_already_present)} already present here with the same secret"
    )
    if report.keys_already_imported or report.keys_already_present:
        lines.append(f"  skipped: {_names([*report.keys_already_imported, *report.keys_already_present])}")
    if report.wildcard_groups:
        lines.append(
            f'  not imported: the wildcard member "*" (every user) of {_names(report.wildcard_groups)}; this service '
            "has no such member: add the users who need the group as members."
        )
    if report.orphaned_metadata:
        lines.append(
            f"  not imported: {len(report.orphaned_metadata)} orphaned keyMetadata entr(y/ies) no record references "
            f"(left by overwritten keys): {_names(report.orphaned_metadata)}"
        )
    if report.allowed_users_dropped:
        dropped = (f"{user_id} (from {key_id})" for key_id, user_id in report.allowed_users_dropped)
        lines.append(f"  allowedUsers not imported (not members of the group): {_names(dropped)}")
    if report.groups_without_members:
        lines.append(f"  groups without members (add an owner in the admin): {_names(report.groups_without_members)}")
    if report.keys_without_metadata:
        lines.append(
            f"  keys without metadata (default name; group keys usable by nobody, as in the legacy service): "
            f"{_names(report.keys_without_metadata)}"
        )
    if report.users_created:
        lines.append(
            f"  the {len(report.users_created)} new user(s) {verb} created without a usable password: set one "
            "(admin or `manage.py changepassword`) or send a password reset to claim each account."
        )
    lines.append("Dry run: nothing was written." if report.dry_run else "Audited as key.imported and legacy.imported.")
    return lines
