"""Settings in production mode, checked in a subprocess with a clean environment."""

import secrets
import subprocess
import sys

from tests.processes import REPO_ROOT, django_env


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO_ROOT, env=django_env(**env),
        capture_output=True, text=True, timeout=120,
    )


def production_env(tmp_path) -> dict[str, str]:
    return {
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "deepfakes.example.org",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://deepfakes.example.org",
        "DFD_VAR_DIR": str(tmp_path),
    }


def test_production_mode_passes_check_deploy_without_warnings(tmp_path):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNING" not in result.stderr


def test_production_mode_without_secret_key_refuses_to_start(tmp_path):
    env = production_env(tmp_path)
    del env["DJANGO_SECRET_KEY"]
    result = manage("check", **env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_invalid_boolean_is_a_clear_error(tmp_path):
    result = manage("check", **{**production_env(tmp_path), "DJANGO_DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


def test_debug_mode_defaults_are_embedded(tmp_path):
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'], s.STORAGES['default']['BACKEND'], s.CELERY_BROKER_URL)"
    )
    result = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=REPO_ROOT,
        env=django_env(DJANGO_DEBUG="1", DFD_VAR_DIR=str(tmp_path)), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.sqlite3", "django.core.files.storage.FileSystemStorage", "filesystem://"
    ]
    assert (tmp_path / "queue" / "messages").is_dir()
