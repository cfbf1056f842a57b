"""Sign-ins in the audit log (Django's auth signals, recorded through ``audit_record``), and tenancy
changes told to the hot path's cache."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from common import hotcache
from groups.audit import audit_record
from groups.models import Membership, Organization, User


@receiver(user_login_failed, dispatch_uid="groups.audit_sign_in_failed")
def record_sign_in_failure(sender: Any, credentials: dict[str, Any], **kwargs: Any) -> None:
    """A failed sign-in: the account it was for, and the client address (from ``audit_record``).

    Never the password (Django hands receivers the credentials with it masked, and it is not read
    here), and the typed name only when it names an account: people type their password into the
    username box, and an unknown name may well be one."""
    typed = str(credentials.get(User.USERNAME_FIELD) or "")
    known = bool(typed) and User.objects.filter(**{User.USERNAME_FIELD: typed}).exists()
    audit_record(
        actor=None,
        action="auth.sign_in_failed",
        target_type="user",
        target_id=typed if known else "",
        details={} if known else {"unknownAccount": True},
    )


@receiver(user_logged_in, dispatch_uid="groups.audit_signed_in")
def record_sign_in(sender: Any, user: User, **kwargs: Any) -> None:
    audit_record(actor=user, action="auth.signed_in", target_type="user", target_id=user.get_username())


@receiver([post_save, post_delete], sender=User, dispatch_uid="groups.hot_cache_users")
@receiver([post_save, post_delete], sender=Organization, dispatch_uid="groups.hot_cache_groups")
@receiver([post_save, post_delete], sender=Membership, dispatch_uid="groups.hot_cache_memberships")
def invalidate_hot_cache(
    sender: Any, *, using: str, update_fields: frozenset[str] | None = None, **kwargs: Any
) -> None:
    # A user deactivated, a member removed, invited, accepted or given another role, a group renamed or
    # deleted: every process's cached tokens and resolutions must see it on their next call
    # (common/hotcache.py). A catch-all on the models, whichever path made the change. Signing in
    # (last_login alone) changes nothing cached, and happens too often to empty every cache.
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return
    hotcache.version_bump_on_commit(using=using)
