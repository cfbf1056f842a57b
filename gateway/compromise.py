"""A compromised provider key: revoke it at once, optionally store its replacement (validated first),
and report the blast radius — who used it, from which tokens and addresses, how much, for which
groups — from the usage records. Group owners and admins are told by email.

The service lives in the gateway because the blast radius is read from the usage ledger; the revoke
and the replacement go through the vault's own services.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Count, Sum

from byok_keys import services as key_services
from byok_keys.models import ProviderKey
from common.errors import ServiceError
from gateway.models import UsageRecord
from groups.audit import audit_record
from groups.models import Membership, User

logger = logging.getLogger("byok.keys")


@dataclass(frozen=True)
class BlastRadius:
    since: datetime
    calls: int
    failed_calls: int
    total_tokens: int
    users: list[str]
    tokens: list[str]  # API token prefixes ("" = the page's session)
    ips: list[str]
    groups: list[str]


@dataclass(frozen=True)
class CompromiseReport:
    key: ProviderKey  # as revoked (its keyId is the compromised one)
    revoked_key_id: str
    blast_radius: BlastRadius
    replacement: key_services.KeySetResult | None = None
    replacement_error: str | None = None
    notified: list[str] = field(default_factory=list)


def blast_radius(*, key_id: str, since: datetime) -> BlastRadius:
    """Everything the usage ledger says about ``key_id`` since ``since``."""
    records = UsageRecord.objects.filter(key_label=key_id, created_at__gte=since)
    totals = records.aggregate(calls=Count("id"), tokens=Sum("total_tokens"))
    ok = records.filter(status="ok").count()
    return BlastRadius(
        since=since,
        calls=ok,
        failed_calls=(totals["calls"] or 0) - ok,
        total_tokens=totals["tokens"] or 0,
        users=sorted(set(records.values_list("user__username", flat=True))),
        tokens=sorted({prefix or "session" for prefix in records.values_list("token_prefix", flat=True)}),
        ips=sorted({ip for ip in records.values_list("ip_address", flat=True) if ip}),
        groups=sorted({slug for slug in records.values_list("organization__slug", flat=True) if slug}),
    )


def _notify(*, key: ProviderKey, actor: User, report: BlastRadius) -> list[str]:
    """Email the group's owners and admins (or the key's owner) that the key was revoked."""
    if key.organization is not None:
        people = [
            m.user
            for m in Membership.objects.active()
            .filter(organization=key.organization, role__in=[Membership.Role.OWNER, Membership.Role.ADMIN])
            .select_related("user")
        ]
        where = f"group '{key.organization.slug}'"
    else:
        people = [key.user] if key.user is not None else []
        where = "your account"
    addresses = sorted({p.email for p in people if p.email})
    if not addresses:
        return []
    body = (
        f"{actor.username} reported the {key.provider} key {key.key_id} (…{key.last4}) of {where} as compromised; "
        f"it was revoked and is no longer used.\n\n"
        f"Since {report.since.isoformat()}: {report.calls} calls ({report.failed_calls} failed), "
        f"{report.total_tokens} tokens, by {', '.join(report.users) or 'nobody'}; "
        f"tokens: {', '.join(report.tokens) or 'none'}; addresses: {', '.join(report.ips) or 'none'}.\n\n"
        "Revoke the key with the provider too, and store a new one if it was not replaced."
    )
    try:
        send_mail(f"[BYOK] {key.provider} key revoked as compromised", body, settings.DEFAULT_FROM_EMAIL, addresses)
    except Exception:  # a mail failure must never undo or hide the revocation
        logger.exception("could not send the compromised-key notice for %s", key.key_id)
        return []
    return addresses


def key_compromised(
    *, actor: User, key: ProviderKey, since: datetime | None = None, replacement: object = None
) -> CompromiseReport:
    """Revoke ``key`` now; report its blast radius since ``since`` (default: when the key was stored);
    then, if given, check and store ``replacement`` in its place (a refusal is reported, the revocation
    stands)."""
    if replacement not in (None, ""):
        key_services.provider_credential_parse(provider=key.provider, raw=replacement)  # a bad shape: 400 first
    revoked = key_services.provider_key_revoke(actor=actor, key=key)
    radius = blast_radius(key_id=revoked.key_id, since=since or revoked.created_at)
    audit_record(
        actor=actor,
        action="key.compromised",
        target_type="provider_key",
        target_id=revoked.key_id,
        organization=revoked.organization,
        details={"since": radius.since.isoformat(), "calls": radius.calls, "users": radius.users[:50]},
    )
    notified = _notify(key=revoked, actor=actor, report=radius)
    stored: key_services.KeySetResult | None = None
    error: str | None = None
    if replacement not in (None, ""):
        owner = (
            key_services.KeyOwner(user=revoked.user)
            if revoked.user is not None
            else key_services.KeyOwner(organization=revoked.organization)
        )
        try:
            stored = key_services.provider_key_set(
                actor=actor, owner=owner, provider=revoked.provider, raw=replacement, name=revoked.name
            )
        except ServiceError as exc:
            error = exc.message
    return CompromiseReport(
        key=revoked,
        revoked_key_id=revoked.key_id,
        blast_radius=radius,
        replacement=stored,
        replacement_error=error,
        notified=notified,
    )
