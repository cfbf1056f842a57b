"""Writing audit events. Callers run inside the service's transaction, so the event and the change
commit or roll back together."""

from __future__ import annotations

from typing import Any

from common.context import current_ip
from groups.models import AuditEvent, Organization, User


def audit_record(
    *,
    actor: User | None,
    action: str,
    target_type: str,
    target_id: str,
    organization: Organization | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.pk else None,
        actor_label=actor.username if actor is not None else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        organization=organization,
        ip_address=current_ip.get(),
        details=details or {},
    )
