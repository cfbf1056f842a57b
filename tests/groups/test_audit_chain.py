"""The audit log's hash chain: every event links to the one before, appends never fork it, and
``byok_audit_verify`` names the first edited, deleted or inserted event (tampering done as an attacker
with database access would: raw SQL)."""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from groups import chain
from groups.audit import audit_chain_verify, audit_record, event_message
from groups.models import AuditChainHead, AuditEvent, Organization, User
from groups.services import group_create, membership_set
from tests.factories import make_client

TABLE = AuditEvent._meta.db_table


def record(n: int, **extra: Any) -> list[AuditEvent]:
    return [
        audit_record(actor=None, action="test.event", target_type="thing", target_id=f"t{i}", details={"i": i, **extra})
        for i in range(n)
    ]


def sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])


def verify() -> str:
    out = StringIO()
    call_command("byok_audit_verify", "--batch-size", "2", stdout=out)
    return out.getvalue()


def verify_fails() -> str:
    with pytest.raises(CommandError) as info:
        verify()
    return str(info.value)


def test_each_event_stores_the_hash_of_the_one_before(db: Any) -> None:
    events = record(3)
    assert [e.sequence for e in events] == [1, 2, 3]
    assert events[0].prev_hash == chain.GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    head = AuditChainHead.objects.get()
    assert (head.sequence, head.hash) == (3, events[-1].hash)


def test_an_event_read_back_from_the_database_matches_its_hash(db: Any, owner: User, group: Organization) -> None:
    # Values the database normalises (an IPv6 address, a float, a unicode name) still hash the same.
    from common.context import current_ip

    token = current_ip.set("2001:DB8:0:0:0:0:0:1")
    try:
        written = audit_record(
            actor=owner,
            action="test.event",
            target_type="thing",
            target_id="ünïcode",
            organization=group,
            details={"ratio": 0.1, "big": 1e20, "nested": {"b": [1, 2.5], "a": None}},
        )
    finally:
        current_ip.reset(token)
    stored = AuditEvent.objects.get(pk=written.pk)
    assert stored.ip_address == "2001:db8::1"
    key = chain.chain_key("test-secret-key-not-for-production")
    assert chain.link_hash(key, event_message(stored)) == stored.hash


def test_verify_says_how_many_events_and_that_the_chain_is_intact(db: Any) -> None:
    record(5)
    assert verify().startswith("5 events, chain intact (head #5, hash ")


def test_an_empty_log_is_intact(db: Any) -> None:
    AuditEvent.objects.all().delete()
    AuditChainHead.objects.all().delete()
    assert verify().startswith("0 events, chain intact")


@pytest.mark.parametrize(
    "change",
    [
        "target_id = 'someone-else'",
        "actor_label = 'mallory'",
        "action = 'key.viewed'",
        "ip_address = '10.9.9.9'",
        "details = '{\"i\": 99}'",
        "organization_id = 424242",
        "created_at = created_at",  # touching a row without changing it is no tampering
    ],
)
def test_an_edited_event_is_named_by_the_verifier(db: Any, change: str) -> None:
    record(4)
    sql(f"UPDATE {TABLE} SET {change} WHERE sequence = 2")
    if change == "created_at = created_at":
        assert "chain intact" in verify()
        return
    message = verify_fails()
    assert "event #2 " in message and "does not match its hash: it was edited" in message
    assert "after 1 intact events" in message


def test_a_deleted_event_is_named_by_the_verifier(db: Any) -> None:
    record(5)
    sql(f"DELETE FROM {TABLE} WHERE sequence IN (2, 3)")
    message = verify_fails()
    assert "events #2 to #3 are missing before event #4" in message and "deleted" in message


def test_a_deleted_first_event_is_named_by_the_verifier(db: Any) -> None:
    record(3)
    sql(f"DELETE FROM {TABLE} WHERE sequence = 1")
    assert "events #1 are missing before event #2" in verify_fails()


def test_events_deleted_from_the_end_are_named_by_the_verifier(db: Any) -> None:
    record(5)
    sql(f"DELETE FROM {TABLE} WHERE sequence >= 4")
    assert "events #4 to #5 at the end are missing: deleted" in verify_fails()


def _insert(*, sequence: int, prev_hash: str, hash_: str, target_id: str = "forged") -> None:
    sql(
        f"INSERT INTO {TABLE} (actor_label, action, target_type, target_id, created_at, details, sequence,"
        " prev_hash, hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        [
            "mallory",
            "key.created",
            "provider_key",
            target_id,
            "2026-01-01T00:00:00+00:00",
            "{}",
            sequence,
            prev_hash,
            hash_,
        ],
    )


def test_an_event_inserted_after_the_last_one_is_named_by_the_verifier(db: Any) -> None:
    events = record(3)
    _insert(sequence=4, prev_hash=events[-1].hash, hash_="f" * 64)
    message = verify_fails()
    assert "event #4 " in message and "lies beyond the chain head: inserted" in message


def test_an_inserted_event_with_the_head_moved_too_has_no_valid_hash(db: Any) -> None:
    events = record(3)
    forged = hashlib.sha256(b"anything").hexdigest()
    _insert(sequence=4, prev_hash=events[-1].hash, hash_=forged)
    sql("UPDATE groups_auditchainhead SET sequence = 4, hash = %s", [forged])
    message = verify_fails()
    assert "event #4 " in message and "inserted by someone without the server's key" in message


def test_an_event_inserted_in_the_middle_is_named_by_the_verifier(db: Any) -> None:
    record(3)
    # Make room by moving the later events up, then slip a row in at position 2.
    sql(f"UPDATE {TABLE} SET sequence = sequence + 10 WHERE sequence >= 2")
    sql(f"UPDATE {TABLE} SET sequence = sequence - 9 WHERE sequence >= 12")
    first = AuditEvent.objects.get(sequence=1)
    _insert(sequence=2, prev_hash=first.hash, hash_="0" * 64)
    message = verify_fails()
    assert "event #2 " in message and "forged" in message


def test_an_attacker_who_recomputes_the_chain_without_the_key_is_caught(db: Any) -> None:
    """With a plain SHA-256 chain, a database writer could edit a row and recompute every link after it;
    the HMAC key lives outside the database."""
    record(4)
    sql(f"UPDATE {TABLE} SET target_id = 'hidden' WHERE sequence = 2")
    wrong_key = chain.chain_key("a guess at the secret key")
    prev = AuditEvent.objects.get(sequence=1).hash
    for event in AuditEvent.objects.filter(sequence__gte=2).order_by("sequence"):
        event.prev_hash = prev
        event.hash = prev = chain.link_hash(wrong_key, event_message(event))
        sql(f"UPDATE {TABLE} SET prev_hash = %s, hash = %s WHERE id = %s", [event.prev_hash, event.hash, event.pk])
    sql("UPDATE groups_auditchainhead SET hash = %s", [prev])
    assert "event #2 " in verify_fails()


def test_events_chained_before_a_secret_key_rotation_verify_with_the_old_key_as_fallback(
    db: Any, settings: Any
) -> None:
    record(2)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-secret-key-after-rotation"
    record(2)
    assert "does not match its hash" in verify_fails()
    settings.SECRET_KEY_FALLBACKS = [old]
    assert verify().startswith("4 events, chain intact")


def test_deleting_a_user_or_a_group_rewrites_no_event(db: Any, owner: User, make_user: Any) -> None:
    other = make_user("nina")
    group = group_create(actor=other, slug="gone", name="Gone")
    membership_set(actor=other, org=group, username=owner.username)
    other_id, group_id = other.pk, group.pk
    group.delete()
    other.delete()
    events = AuditEvent.objects.filter(actor_label="nina")
    assert events.exists()
    assert set(events.values_list("actor_id", flat=True)) == {other_id}
    assert AuditEvent.objects.filter(organization_id=group_id).exists()
    assert "chain intact" in verify()
    # The event of a deleted group reads as having none, in the admin and the API alike.
    pk = AuditEvent.objects.filter(organization_id=group_id).values_list("pk", flat=True).first()
    event = AuditEvent.objects.select_related("organization").get(pk=pk)
    assert event.organization is None


def test_verify_reports_a_missing_head_row(db: Any) -> None:
    record(2)
    AuditChainHead.objects.all().delete()
    assert "chain head row is missing" in verify_fails()


def test_a_missing_head_row_is_rebuilt_from_the_last_event_and_recording_goes_on(db: Any) -> None:
    record(2)
    AuditChainHead.objects.all().delete()
    (third,) = record(1)
    assert third.sequence == 3
    assert verify().startswith("3 events, chain intact")


def test_the_verifier_reads_in_batches(db: Any) -> None:
    record(7)
    seen: list[int] = []
    report = audit_chain_verify(batch_size=3, progress=seen.append)
    assert report.intact and report.events == AuditEvent.objects.count()
    assert max(seen) == 3 and sum(seen) == report.events


@pytest.mark.real_http
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_never_fork_the_chain(live_server: Any, owner: User) -> None:
    """Forty token creations at once through a live server (each writes an event in its own
    transaction): one chain, no gap, no repeated position, no 500."""
    token = make_client(owner).token  # type: ignore[attr-defined]

    def create(i: int) -> int:
        return requests.post(
            f"{live_server.url}/api/byok/tokens",
            json={"name": f"t{i}"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(create, range(40)))
    assert statuses == [201] * 40
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1))
    assert AuditEvent.objects.filter(action="token.created").count() == 41  # + make_client's
    assert "chain intact" in verify()


@pytest.mark.django_db(transaction=True)
def test_events_from_before_the_chain_are_chained_by_the_migration_in_id_order() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([("groups", "0003_auditevent")])
    old = executor.loader.project_state([("groups", "0003_auditevent")]).apps
    OldUser = old.get_model("groups", "User")
    OldEvent = old.get_model("groups", "AuditEvent")
    user = OldUser.objects.create(username="mira", password="!")
    for i in range(5):
        OldEvent.objects.create(
            actor=user,
            actor_label="mira",
            action="key.created",
            target_type="provider_key",
            target_id=f"k{i}",
            ip_address="192.0.2.1",
            details={"i": i, "note": "ünïcode"},
        )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    events = list(AuditEvent.objects.order_by("id"))
    assert [e.sequence for e in events] == [1, 2, 3, 4, 5]
    assert [e.target_id for e in events] == ["k0", "k1", "k2", "k3", "k4"]
    assert "5 events, chain intact" in verify()
    (sixth,) = record(1)
    assert sixth.sequence == 6 and sixth.prev_hash == events[-1].hash
    assert json.loads(json.dumps(events[0].details)) == {"i": 0, "note": "ünïcode"}


def test_events_recorded_together_chain_exactly_like_events_recorded_one_by_one(db: Any, group: Organization) -> None:
    from groups.audit import AuditEntry, audit_record_many

    first = record(1)[0]
    many = audit_record_many(
        actor=None,
        entries=[
            AuditEntry(
                action="test.event", target_type="thing", target_id=f"m{i}", organization=group, details={"i": i}
            )
            for i in range(3)
        ],
    )
    assert [e.sequence for e in many] == [first.sequence + 1, first.sequence + 2, first.sequence + 3]
    assert many[0].prev_hash == first.hash and many[1].prev_hash == many[0].hash
    stored = list(AuditEvent.objects.filter(target_id__startswith="m").order_by("sequence"))
    assert [e.hash for e in stored] == [e.hash for e in many] and stored[0].organization_id == group.pk
    assert AuditChainHead.objects.get(pk=1).hash == many[-1].hash
    assert audit_chain_verify().intact
    assert audit_record_many(actor=None, entries=[]) == []
