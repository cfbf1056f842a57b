"""Writing audit events: the only way rows get into the audit log.

Callers run inside the service's transaction, so the event and the change commit or roll back
together. Each event is appended to the hash chain (``groups.chain``) under a lock on the one-row
``AuditChainHead``: two transactions appending at once take turns (on PostgreSQL the second waits for
the first to commit; on SQLite write transactions already run one at a time), so the chain never forks
and ``sequence`` has no gaps.

The head stays locked until the caller's transaction ends, so a service should call ``audit_record``
after its last row lock: a transaction that locked the head and then waits for a row another
transaction holds while that one waits for the head would deadlock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q, Subquery
from django.utils import timezone

from common.context import current_ip
from groups import chain
from groups.models import AuditChainHead, AuditEvent, Membership, Organization, User
from groups.roles import is_platform_staff


def audit_record(
    *,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: str,
    organization: Organization | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    details = dict(details or {})
    if _staff_outside_group(actor, organization):
        # Platform staff manage every group; what they do to a group they do not belong to is flagged.
        details["staff"] = True
    with transaction.atomic():
        head = _locked_head()
        event = AuditEvent(
            actor=actor if actor is not None and actor.pk else None,
            actor_label=(actor.username if actor is not None else "")[:150],
            action=action[:64],
            target_type=target_type[:32],
            target_id=str(target_id)[:150],
            organization=organization,
            ip_address=chain.canonical_ip(current_ip.get()),
            created_at=timezone.now(),
            details=details,
            sequence=head.sequence + 1,
            prev_hash=head.hash,
        )
        event.hash = chain.link_hash(chain.chain_key(settings.SECRET_KEY), event_message(event))
        event.save(force_insert=True)
        head.sequence, head.hash = event.sequence, event.hash
        head.save(update_fields=["sequence", "hash"])
    return event


@dataclass(frozen=True)
class AuditEntry:
    """One event of ``audit_record_many``: what ``audit_record`` takes, less the actor (shared)."""

    action: str
    target_type: str
    target_id: str
    organization: Organization | None = None
    details: dict[str, Any] | None = None


def audit_record_many(*, actor: User | None, entries: list[AuditEntry]) -> list[AuditEvent]:
    """Append ``entries`` to the chain in one step: one lock on the chain head, one insert, one head
    update, whatever their number (a batch job such as ``byok_reseal`` audits thousands of changes).
    The same events, hashes and order as calling ``audit_record`` for each entry in turn."""
    if not entries:
        return []
    key = chain.chain_key(settings.SECRET_KEY)
    ip = chain.canonical_ip(current_ip.get())
    recorded_actor = actor if actor is not None and actor.pk else None
    staff_outside: dict[int | None, bool] = {}
    with transaction.atomic():
        head = _locked_head()
        sequence, prev_hash = head.sequence, head.hash
        events = []
        for entry in entries:
            details = dict(entry.details or {})
            org_pk = entry.organization.pk if entry.organization is not None else None
            if org_pk not in staff_outside:
                staff_outside[org_pk] = _staff_outside_group(actor, entry.organization)
            if staff_outside[org_pk]:
                details["staff"] = True
            sequence += 1
            event = AuditEvent(
                actor=recorded_actor,
                actor_label=(actor.username if actor is not None else "")[:150],
                action=entry.action[:64],
                target_type=entry.target_type[:32],
                target_id=str(entry.target_id)[:150],
                organization=entry.organization,
                ip_address=ip,
                created_at=timezone.now(),
                details=details,
                sequence=sequence,
                prev_hash=prev_hash,
            )
            event.hash = prev_hash = chain.link_hash(key, event_message(event))
            events.append(event)
        AuditEvent.objects.bulk_create(events)
        head.sequence, head.hash = sequence, prev_hash
        head.save(update_fields=["sequence", "hash"])
    return events


def event_message(event: AuditEvent) -> bytes:
    """What an event's hash covers (also used by the verifier)."""
    return chain.canonical(
        sequence=event.sequence,
        created_at=event.created_at,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        target_type=event.target_type,
        target_id=event.target_id,
        organization_id=event.organization_id,
        ip_address=event.ip_address,
        details=event.details,
        prev_hash=event.prev_hash,
    )


def _locked_head() -> AuditChainHead:
    head = AuditChainHead.objects.select_for_update().filter(pk=1).first()
    if head is not None:
        return head
    # The migration creates the head; an emptied database (a test flush) has none. Rebuilt from the
    # last event, so a deleted head row never stops the service from recording.
    last = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    try:
        with transaction.atomic():
            AuditChainHead.objects.create(
                pk=1, sequence=last[0] if last else 0, hash=last[1] if last else chain.GENESIS
            )
    except IntegrityError:  # created by a concurrent transaction meanwhile
        pass
    return AuditChainHead.objects.select_for_update().get(pk=1)


def _staff_outside_group(actor: User | None, organization: Organization | None) -> bool:
    if actor is None or organization is None or not actor.is_staff or not is_platform_staff(actor):
        return False
    return not Membership.objects.active().filter(user=actor, organization=organization).exists()


# ---- verifying the chain ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """What ``audit_chain_verify`` found: how many events it checked, the head it checked them against,
    and the first broken link (None when the chain is intact)."""

    events: int
    head_sequence: int
    head_hash: str
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


def audit_chain_verify(*, batch_size: int = 2000, progress: Callable[[int], object] | None = None) -> ChainReport:
    """Walk the chain in order, ``batch_size`` events at a time (flat memory), and name the first link
    that does not hold:

    - an edited event no longer matches its hash (nobody without the server's key can make a new one);
    - a deleted event leaves a gap in ``sequence`` (and the next event's ``prev_hash`` points nowhere);
    - an inserted event has no valid hash, repeats a position, or lies beyond the chain head.

    Events appended while the walk runs are not checked (the walk stops at the head it read first).
    Events cut off the end *and* a head rewritten to match cannot be seen from inside the database:
    keep the head this prints, or the export, somewhere else to detect that.
    """
    keys = chain.chain_keys(settings.SECRET_KEY, getattr(settings, "SECRET_KEY_FALLBACKS", ()))
    head = AuditChainHead.objects.filter(pk=1).values_list("sequence", "hash").first()
    head_sequence, head_hash = head if head is not None else (0, chain.GENESIS)
    expected, prev_hash, checked = 1, chain.GENESIS, 0
    cursor: tuple[int, int] = (0, 0)
    while True:
        after = Q(sequence__gt=cursor[0]) | Q(sequence=cursor[0], id__gt=cursor[1])
        batch = list(
            AuditEvent.objects.filter(after, sequence__lte=head_sequence).order_by("sequence", "id")[:batch_size]
        )
        if not batch:
            break
        for event in batch:
            where = f"event #{event.sequence} (id {event.pk}, {event.action} {event.target_id})"
            if event.sequence < expected:
                return _broken(
                    checked, head_sequence, head_hash, f"{where} repeats position #{event.sequence}: inserted."
                )
            if event.sequence > expected:
                missing = f"#{expected}" if event.sequence == expected + 1 else f"#{expected} to #{event.sequence - 1}"
                return _broken(
                    checked, head_sequence, head_hash, f"events {missing} are missing before {where}: deleted."
                )
            if event.prev_hash != prev_hash:
                return _broken(
                    checked,
                    head_sequence,
                    head_hash,
                    f"{where} does not follow event #{expected - 1}: its prev_hash differs from that event's hash "
                    "(an event was replaced or inserted here).",
                )
            if not chain.link_matches(keys, event_message(event), event.hash):
                return _broken(
                    checked,
                    head_sequence,
                    head_hash,
                    f"{where} does not match its hash: it was edited, or inserted by someone without the "
                    "server's key (or DJANGO_SECRET_KEY changed: list the old one in Django's SECRET_KEY_FALLBACKS).",
                )
            prev_hash, expected, checked = event.hash, expected + 1, checked + 1
            cursor = (event.sequence, event.pk)
        if progress is not None:
            progress(len(batch))
    if head is None and checked == 0 and AuditEvent.objects.exists():
        return _broken(0, 0, chain.GENESIS, "the chain head row is missing (groups_auditchainhead).")
    if checked < head_sequence:
        missing = f"#{checked + 1}" if checked + 1 == head_sequence else f"#{checked + 1} to #{head_sequence}"
        return _broken(checked, head_sequence, head_hash, f"events {missing} at the end are missing: deleted.")
    if prev_hash != head_hash:
        return _broken(
            checked, head_sequence, head_hash, f"the last event #{checked} does not match the chain head's hash."
        )
    beyond = (
        AuditEvent.objects.filter(sequence__gt=Subquery(AuditChainHead.objects.filter(pk=1).values("sequence")[:1]))
        .order_by("sequence")
        .first()
    )
    if beyond is not None:
        return _broken(
            checked,
            head_sequence,
            head_hash,
            f"event #{beyond.sequence} (id {beyond.pk}, {beyond.action} {beyond.target_id}) lies beyond the chain "
            "head: inserted.",
        )
    return ChainReport(events=checked, head_sequence=head_sequence, head_hash=head_hash)


def _broken(checked: int, head_sequence: int, head_hash: str, problem: str) -> ChainReport:
    return ChainReport(events=checked, head_sequence=head_sequence, head_hash=head_hash, problem=problem)
