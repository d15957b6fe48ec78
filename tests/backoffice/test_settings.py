"""Settings are checked the way they are used: in a fresh process with real environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, env_overrides):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS",
                        "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    env.update(env_overrides)
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "q7Vf2-production-like-secret-key-9Xz3Lm0pR8sT1uW4yB6nC5dE7gH2jK",
    "ALLOWED_HOSTS": "backoffice.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://backoffice.example.com",
    "DATABASE_URL": "sqlite:////tmp/backoffice-deploy-check.sqlite3",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
}


def test_production_settings_pass_the_deploy_check():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_debug_off_without_secret_key_refuses_to_start_with_a_clear_message():
    result = _manage("check", env_overrides={**PRODUCTION, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is not set. It is required when DEBUG is off" in result.stderr


def test_production_defaults_are_secure():
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_EXPIRE_AT_BROWSER_CLOSE, s.SESSION_SAVE_EVERY_REQUEST,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " s.X_FRAME_OPTIONS, s.SANDBOX_ENABLED, s.TIME_ZONE, s.USE_TZ)"
    )
    result = _manage("shell", "-c", code, env_overrides=PRODUCTION)
    printed = result.stdout.strip().splitlines()[-1].split()
    assert printed == ["True", "True", "True", "True", "True", "DENY", "False", "UTC", "True"], (
        result.stderr
    )
