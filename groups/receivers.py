"""Sign-ins in the audit log: Django's auth signals, recorded through ``audit_record``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from groups.audit import audit_record
from groups.models import User


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
