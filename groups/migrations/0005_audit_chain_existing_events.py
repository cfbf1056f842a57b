from typing import Any

from django.conf import settings
from django.db import migrations

from groups import chain

BATCH = 1000


def chain_existing_events(apps: Any, schema_editor: Any) -> None:
    """Chain the events written before the chain existed, in id order, so the verifier covers them."""
    AuditEvent = apps.get_model("groups", "AuditEvent")
    AuditChainHead = apps.get_model("groups", "AuditChainHead")
    db = schema_editor.connection.alias
    key = chain.chain_key(settings.SECRET_KEY)
    sequence, prev_hash, last_id = 0, chain.GENESIS, 0
    while True:
        batch = list(AuditEvent.objects.using(db).filter(id__gt=last_id).order_by("id")[:BATCH])
        if not batch:
            break
        for event in batch:
            sequence += 1
            event.sequence, event.prev_hash = sequence, prev_hash
            event.hash = chain.link_hash(
                key,
                chain.canonical(
                    sequence=sequence,
                    created_at=event.created_at,
                    actor_id=event.actor_id,
                    actor_label=event.actor_label,
                    action=event.action,
                    target_type=event.target_type,
                    target_id=event.target_id,
                    organization_id=event.organization_id,
                    ip_address=event.ip_address,
                    details=event.details,
                    prev_hash=prev_hash,
                ),
            )
            prev_hash, last_id = event.hash, event.id
        AuditEvent.objects.using(db).bulk_update(batch, ["sequence", "prev_hash", "hash"])
    AuditChainHead.objects.using(db).update_or_create(id=1, defaults={"sequence": sequence, "hash": prev_hash})


class Migration(migrations.Migration):
    """The audit log becomes a hash chain (step 2 of 3: chain the events that already exist)."""

    dependencies = [
        ("groups", "0004_audit_chain_fields"),
    ]

    operations = [
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop, elidable=False),
    ]
