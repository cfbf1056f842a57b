"""Operator settings the providers read on each call: base URL overrides (Django-free)."""

from __future__ import annotations

import types

import pytest
from django.conf import LazySettings

from providers import settings as provider_settings
from providers.registry import REGISTRY
from providers.settings import effective_base_url


@pytest.fixture
def no_django_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django settings that were never configured, and no override variables in the environment."""
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    for provider_id in REGISTRY:
        monkeypatch.delenv(f"BYOK_{provider_id.upper()}_BASE_URL", raising=False)
    monkeypatch.setattr(provider_settings, "settings", LazySettings())


def _fake_settings(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    monkeypatch.setattr(provider_settings, "settings", types.SimpleNamespace(**values))


@pytest.mark.usefixtures("no_django_settings")
def test_base_url_is_the_default_without_an_override() -> None:
    assert effective_base_url(REGISTRY["openai"].spec) == "https://api.openai.com/v1"


@pytest.mark.usefixtures("no_django_settings")
def test_byok_id_base_url_environment_variable_overrides_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_OPENAI_BASE_URL", "http://fake-openai:8080/v1/")
    assert effective_base_url(REGISTRY["openai"].spec) == "http://fake-openai:8080/v1"
    assert effective_base_url(REGISTRY["anthropic"].spec) == "https://api.anthropic.com"


@pytest.mark.usefixtures("no_django_settings")
def test_settings_override_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_OPENAI_BASE_URL", "http://from-env/v1")
    _fake_settings(monkeypatch, BYOK_BASE_URL_OVERRIDES={"openai": "http://from-settings/v1"})
    assert effective_base_url(REGISTRY["openai"].spec) == "http://from-settings/v1"


@pytest.mark.usefixtures("no_django_settings")
def test_settings_without_overrides_fall_back_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BYOK_GROQ_BASE_URL", "http://fake-groq/openai/v1")
    _fake_settings(monkeypatch)
    assert effective_base_url(REGISTRY["groq"].spec) == "http://fake-groq/openai/v1"
