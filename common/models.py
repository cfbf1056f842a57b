from __future__ import annotations

from django.db import models


class CacheVersion(models.Model):
    """One row: the shared version of the hot path's in-process caches when there is no Redis
    (``common.hotcache``). Every change to who may call or which key serves bumps it after commit."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    value = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="cacheversion_single_row")]

    def __str__(self) -> str:
        return f"cache version {self.value}"
