"""How the vault reacts to tenancy changes (connected in ``ByokKeysConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from byok_keys import services
from groups.models import Organization, User
from groups.signals import membership_ended


@receiver(membership_ended, dispatch_uid="byok_keys.forget_member")
def forget_member(sender: Any, *, organization: Organization, user: User, **kwargs: Any) -> None:
    # A member who leaves loses the group's keys, including any that name them in allowedUsers.
    services.group_keys_forget_member(organization=organization, user=user)
