from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

ROOT = Path(__file__).resolve().parent.parent


def test_malformed_master_key_is_a_startup_error_that_says_what_is_wrong() -> None:
    with override_settings(BYOK_ENCRYPTION_KEY="not-hex"), pytest.raises(SystemCheckError) as info:
        call_command("check")
    assert "byok.E001" in str(info.value)
    assert "64 hex characters" in str(info.value)


def test_malformed_previous_key_is_reported() -> None:
    with override_settings(BYOK_PREVIOUS_ENCRYPTION_KEYS=["1234"]), pytest.raises(SystemCheckError) as info:
        call_command("check")
    assert "byok.E002" in str(info.value)


def _run_python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BYOK_", "DJANGO_"))}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def test_production_settings_refuse_to_start_without_a_master_key() -> None:
    result = _run_python(
        "import django; django.setup()",
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "example.com",
            "PYTHONPATH": str(ROOT),
        },
        ROOT,
    )
    assert result.returncode != 0
    assert "Set BYOK_ENCRYPTION_KEY" in result.stderr


def test_production_settings_refuse_a_malformed_master_key(tmp_path: Path) -> None:
    result = _run_python(
        "import config.wsgi",
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "example.com",
            "BYOK_ENCRYPTION_KEY": "nothex",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "PYTHONPATH": str(ROOT),
        },
        ROOT,
    )
    assert result.returncode != 0
    assert "64 hex characters" in result.stderr


def test_encryption_key_file_is_read(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text("ab" * 32 + "\n")
    result = _run_python(
        "import django; django.setup(); from django.conf import settings; print(settings.BYOK_ENCRYPTION_KEY)",
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "x" * 50,
            "DJANGO_ALLOWED_HOSTS": "example.com",
            "BYOK_ENCRYPTION_KEY_FILE": str(key_file),
            "DATABASE_URL": "sqlite:///" + str(tmp_path / "db.sqlite3"),
            "PYTHONPATH": str(ROOT),
        },
        ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ab" * 32


def test_local_settings_generate_a_private_master_key_file(tmp_path: Path) -> None:
    # Run local settings from a copy of the config package so the real var/ is untouched.
    import shutil

    shutil.copytree(ROOT / "config", tmp_path / "config")
    result = _run_python(
        "from config.settings import local; print(local.BYOK_ENCRYPTION_KEY)",
        {"PYTHONPATH": str(tmp_path)},
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    key_path = tmp_path / "var" / "byok-master.key"
    assert key_path.read_text().strip() == result.stdout.strip()
    assert len(result.stdout.strip()) == 64
    assert (key_path.stat().st_mode & 0o777) == 0o600
    assert "generated a local master key" in result.stderr


@pytest.mark.parametrize("path", ["/api/nope", "/v1/nope", "/api/byok/keys/", "/v1/models/"])
def test_unknown_api_paths_answer_json_404_with_debug_on(path: str, client: Any, settings: Any) -> None:
    settings.DEBUG = True
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "not_found"
    if path.endswith("/"):
        assert f"use {path.rstrip('/')}" in body["error"]


PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x" * 50,
    "DJANGO_ALLOWED_HOSTS": "example.com",
    "BYOK_ENCRYPTION_KEY": "ab" * 32,
    "PYTHONPATH": str(ROOT),
}


def test_a_missing_encryption_key_file_is_a_startup_error_naming_the_variable(tmp_path: Path) -> None:
    env = {**PRODUCTION_ENV, "BYOK_ENCRYPTION_KEY": "", "BYOK_ENCRYPTION_KEY_FILE": str(tmp_path / "nope.key")}
    result = _run_python("import django; django.setup()", env, ROOT)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "BYOK_ENCRYPTION_KEY_FILE=" in result.stderr
    assert "FileNotFoundError" not in result.stderr


def test_production_on_postgresql_uses_a_pool_per_worker_of_a_set_size() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; d = settings.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['OPTIONS']['pool']['max_size'])"
    )
    env = {**PRODUCTION_ENV, "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/postgres"}
    result = _run_python(code, env, ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "10"]
    result = _run_python(code, {**env, "DATABASE_POOL_MAX_SIZE": "6"}, ROOT)
    assert result.stdout.split() == ["0", "6"]
