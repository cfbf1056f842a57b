"""``manage.py byok_audit_export``: JSON lines for a SIEM, in chain order, with the chain's hashes."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from groups import chain
from groups.audit import audit_record
from groups.models import AuditEvent, Organization, User


def export(*args: str) -> tuple[list[dict[str, Any]], str]:
    out, err = StringIO(), StringIO()
    call_command("byok_audit_export", *args, stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def at(when: str, action: str) -> AuditEvent:
    event = audit_record(actor=None, action=action, target_type="thing", target_id=action)
    # Backdated for the filter only; the chain is not verified in these tests.
    AuditEvent.objects.filter(pk=event.pk).update(created_at=datetime.fromisoformat(when).replace(tzinfo=UTC))
    return event


def test_every_event_is_one_json_line_with_its_place_in_the_chain(owner: User, group: Organization) -> None:
    audit_record(actor=owner, action="test.event", target_type="thing", target_id="x", organization=group)
    lines, err = export("--since", "2000-01-01", "--batch-size", "2")
    assert len(lines) == AuditEvent.objects.count() >= 3
    assert err.strip() == f"Exported {len(lines)} events."
    assert [line["sequence"] for line in lines] == list(range(1, len(lines) + 1))
    assert lines[0]["prevHash"] == chain.GENESIS
    assert all(later["prevHash"] == earlier["hash"] for earlier, later in itertools.pairwise(lines))
    last = lines[-1]
    assert set(last) == {
        "id",
        "time",
        "actor",
        "action",
        "targetType",
        "targetId",
        "groupId",
        "ip",
        "details",
        "sequence",
        "prevHash",
        "hash",
    }
    assert (last["actor"], last["action"], last["groupId"]) == ("olivia", "test.event", "acme")


def test_since_and_until_bound_the_export(db: Any) -> None:
    at("2026-01-01T00:00:00", "old")
    at("2026-02-01T12:00:00", "middle")
    at("2026-03-01T00:00:00", "new")
    lines, _ = export("--since", "2026-01-15", "--until", "2026-03-01")
    assert [line["action"] for line in lines] == ["middle"]
    lines, _ = export("--since", "2026-02-01T12:00:00Z")
    assert [line["action"] for line in lines] == ["middle", "new"]


def test_the_export_goes_to_a_file(db: Any, tmp_path: Path) -> None:
    at("2026-02-01T00:00:00", "to-file")
    target = tmp_path / "audit.jsonl"
    lines, err = export("--since", "2026-01-01", "--output", str(target))
    assert lines == []
    assert [json.loads(line)["action"] for line in target.read_text().splitlines()] == ["to-file"]
    assert "Exported 1 events." in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last week"], "--since: since must be an ISO 8601 date or time"),
        (["--since", "2026-02-01", "--until", "2026-01-01"], "--until must be later than --since"),
    ],
)
def test_bad_bounds_are_refused(db: Any, args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        export(*args)
