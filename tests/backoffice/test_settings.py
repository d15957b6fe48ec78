"""Settings are checked the way they are used: in a fresh process with real environment."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, env_overrides):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS",
                        "DJANGO_ALLOW_ASYNC_UNSAFE", "STAFF_MFA_REQUIRED", "SANDBOX_ENABLED",
                        "TWO_PERSON_OPERATIONS", "VAR_DIR", "DATABASE_URL",
                        "OTP_WEBAUTHN_RP_ID", "OTP_WEBAUTHN_ALLOWED_ORIGINS", "EMAIL_URL",
                        "EMAIL_BACKEND", "DEFAULT_FROM_EMAIL", "NOTICE_RENEW_URL",
                        "NOTICE_SUPPORT_EMAIL"}}
    env.update(env_overrides)
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env,
                          capture_output=True, text=True, cwd=ROOT, timeout=120)


PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "q7Vf2-production-like-secret-key-9Xz3Lm0pR8sT1uW4yB6nC5dE7gH2jK",
    "ALLOWED_HOSTS": "backoffice.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://backoffice.example.com",
    "SANDBOX_ENABLED": "0",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp+tls://renewals:pw@mail.registrar.test:587",
    "DEFAULT_FROM_EMAIL": "Registrar <renewals@registrar.test>",
    "NOTICE_RENEW_URL": "https://www.registrar.test/domains/{domain}/renew",
    "NOTICE_SUPPORT_EMAIL": "support@registrar.test",
}


@pytest.fixture
def production(tmp_path):
    """Production's environment, with its files (database, cache, queue) in a fresh
    folder of this test's own."""
    return {**PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'backoffice.sqlite3'}",
            "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "backoffice.settings"}


def _deploy_check(env):
    return _manage("check", "--deploy", "--fail-level", "WARNING", env_overrides=env)


def test_production_settings_pass_the_deploy_check(production):
    result = _deploy_check(production)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_deploy_check_refuses_the_sandbox_in_production(production):
    result = _deploy_check({**production, "SANDBOX_ENABLED": "1"})
    assert result.returncode != 0
    assert "backoffice.W002" in result.stderr
    assert "SANDBOX_ENABLED is on with DEBUG off" in result.stderr


def test_the_deploy_check_refuses_logins_without_a_second_factor(production):
    result = _deploy_check({**production, "STAFF_MFA_REQUIRED": "0"})
    assert result.returncode != 0
    assert "backoffice.W001" in result.stderr
    assert "STAFF_MFA_REQUIRED is off with DEBUG off" in result.stderr


def test_the_deploy_check_refuses_an_empty_two_person_list(production):
    result = _deploy_check({**production, "TWO_PERSON_OPERATIONS": ""})
    assert result.returncode != 0
    assert "backoffice.W003" in result.stderr


def test_the_deploy_check_refuses_passkey_origins_off_the_site(production):
    result = _deploy_check({**production, "OTP_WEBAUTHN_RP_ID": "elsewhere.example.org"})
    assert result.returncode != 0
    assert "backoffice.W004" in result.stderr


def test_the_deploy_check_refuses_notices_that_reach_no_customer(production):
    result = _deploy_check({**{k: v for k, v in production.items() if k != "EMAIL_URL"},
                            "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"})
    assert result.returncode != 0
    assert "backoffice.W005" in result.stderr and "reach no customer" in result.stderr


def test_the_deploy_check_refuses_placeholder_notice_addresses(production):
    result = _deploy_check({k: v for k, v in production.items()
                            if k not in ("DEFAULT_FROM_EMAIL", "NOTICE_SUPPORT_EMAIL")})
    assert result.returncode != 0
    assert "backoffice.W006" in result.stderr
    assert "DEFAULT_FROM_EMAIL, NOTICE_SUPPORT_EMAIL still hold" in result.stderr


def test_second_factors_are_on_by_default_in_production(production):
    result = _manage("shell", "-c", "from django.conf import settings as s;"
                     "print(s.STAFF_MFA_REQUIRED, s.OTP_WEBAUTHN_RP_ID,"
                     " s.OTP_WEBAUTHN_ALLOWED_ORIGINS, s.OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN)",
                     env_overrides=production)
    assert result.stdout.strip().splitlines()[-1] == (
        "True backoffice.example.com ['https://backoffice.example.com'] False"), result.stderr


def test_debug_off_without_secret_key_refuses_to_start_with_a_clear_message(production):
    result = _manage("check", env_overrides={**production, "SECRET_KEY": ""})
    assert result.returncode != 0
    assert "SECRET_KEY is not set. It is required when DEBUG is off" in result.stderr


def test_production_defaults_are_secure(production):
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_EXPIRE_AT_BROWSER_CLOSE, s.SESSION_SAVE_EVERY_REQUEST,"
        " s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT,"
        " s.X_FRAME_OPTIONS, s.SANDBOX_ENABLED, s.TIME_ZONE, s.USE_TZ)"
    )
    result = _manage("shell", "-c", code, env_overrides=production)
    printed = result.stdout.strip().splitlines()[-1].split()
    assert printed == ["True", "True", "True", "True", "True", "DENY", "False", "UTC", "True"], (
        result.stderr
    )


def test_the_development_settings_pass_the_system_check(tmp_path):
    """`make run` starts from DEBUG=1 on a fresh machine: its settings (passkey origins on
    plain http included) must pass Django's checks, or the server never starts."""
    result = _manage("check", env_overrides={
        "DEBUG": "1", "VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "backoffice.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
