"""How the vault reacts to tenancy changes, and tells the hot path's cache about its own (connected in
``ByokKeysConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from byok_keys import services
from byok_keys.models import ApiToken, ProviderKey
from common import hotcache
from groups.models import Organization, User
from groups.signals import membership_ended


@receiver(membership_ended, dispatch_uid="byok_keys.forget_member")
def forget_member(sender: Any, *, organization: Organization, user: User, **kwargs: Any) -> None:
    # A member who leaves loses the group's keys, including any that name them in allowedUsers.
    services.group_keys_forget_member(organization=organization, user=user)


@receiver([post_save, post_delete], sender=ApiToken, dispatch_uid="byok_keys.hot_cache_tokens")
@receiver([post_save, post_delete], sender=ProviderKey, dispatch_uid="byok_keys.hot_cache_keys")
@receiver(m2m_changed, sender=ProviderKey.allowed_users.through, dispatch_uid="byok_keys.hot_cache_allowed_users")
def invalidate_hot_cache(sender: Any, *, using: str, action: str | None = None, **kwargs: Any) -> None:
    # A token revoked, a key deleted, replaced, re-shared or made unusable: every process's cached
    # tokens and resolutions must see it on their next call (common/hotcache.py). A catch-all on the
    # models, so the admin, the commands and any future path are covered without remembering to.
    if action is None or action.startswith("post_"):  # m2m_changed also announces changes before them
        hotcache.version_bump_on_commit(using=using)
