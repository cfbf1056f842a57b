"""Rate-limit settings (``common.ratelimit.Rate``): how a rate is written, and that a bad one stops
the service at start-up. Limits shared through Redis are in test_ratelimit_redis.py."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from common.ratelimit import Rate


def test_a_rate_is_a_count_per_period_or_off() -> None:
    assert Rate.parse("600/min", setting="x") == Rate(600, 60)
    assert Rate.parse("10/s", setting="x") == Rate(10, 1)
    assert Rate.parse("1000/5min", setting="x") == Rate(1000, 300)
    assert Rate.parse("off", setting="x") is None


def test_an_unreadable_rate_is_refused_naming_the_setting() -> None:
    with pytest.raises(ImproperlyConfigured, match="BYOK_RATE_LIMIT_USER"):
        Rate.parse("lots", setting="BYOK_RATE_LIMIT_USER")


@pytest.mark.parametrize("value", ["10/00s", "00/min", "0/min"])
def test_zero_rates_are_refused(value: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        Rate.parse(value, setting="BYOK_RATE_LIMIT_USER")


def test_malformed_rate_limits_are_a_startup_error() -> None:
    with override_settings(BYOK_RATE_LIMIT_USER="10/0s"), pytest.raises(SystemCheckError, match=r"byok\.E003"):
        call_command("check")
