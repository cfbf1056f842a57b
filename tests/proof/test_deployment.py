"""Production settings, configured as the README tells an operator, pass Django's deployment checks
with no warning (``manage.py check --deploy --fail-level WARNING``)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def operator_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """The environment an operator sets for production (README: Running on PostgreSQL + Redis)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BYOK_", "DJANGO_", "DATABASE_", "REDIS_"))}
    env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "byok.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://byok.example.com",
        "BYOK_ENCRYPTION_KEY": secrets.token_hex(32),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "DJANGO_HSTS_SECONDS": "31536000",
        "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
        "DJANGO_HSTS_PRELOAD": "true",
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "ignore",  # the "production on SQLite" warning: this test has no PostgreSQL to hand
    }
    env.update(overrides)
    return env


def check_deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_production_settings_with_every_variable_set_pass_check_deploy_without_warnings(tmp_path: Path) -> None:
    result = check_deploy(operator_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_warns_while_hsts_is_off(tmp_path: Path) -> None:
    """The check above is not vacuous: the default (HSTS off until HTTPS is settled) is reported."""
    result = check_deploy(operator_env(tmp_path, DJANGO_HSTS_SECONDS="0"))
    assert result.returncode != 0
    assert "security.W004" in result.stderr + result.stdout
