"""`runsandbox` serves document 001 over real loopback HTTP; `provider_check` and the
adapter work against it exactly as against a remote registrar."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.core.management import CommandError, call_command

from registrar.providers.base import RegistrationRef
from registrar.providers.errors import TransportError
from registrar.providers.registry import build_provider
from tests.factories import ProviderAccountFactory, TldFactory
from tests.registrar.test_sandbox import _await_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sandbox_url():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), "runsandbox", "--port", "0", "--memory"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield _await_url(process, timeout=15)
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        if process.stdout:
            process.stdout.close()


@pytest.fixture
def account(db, sandbox_url, monkeypatch, settings):
    # runsandbox listens on loopback over plain http: allowed only as in development.
    settings.PROVIDER_LOOPBACK_HTTP_ALLOWED = True
    monkeypatch.setenv("PROVIDER_SECRET_LOOPBACK", "sandbox-token")
    account = ProviderAccountFactory(label="loopback", kind="domain_api", base_url=sandbox_url,
                                     account_ref="acct-1", secret_env="PROVIDER_SECRET_LOOPBACK")
    TldFactory(name="com", provider_account=account)
    return account


def test_provider_check_reports_reachable_authorised_latency_and_tlds(account, capsys):
    call_command("provider_check", "loopback")
    out = capsys.readouterr().out
    assert "loopback: reachable and authorised" in out
    assert " ms" in out and ".com" in out and "lock" in out


def test_provider_check_fails_with_a_clear_message_on_a_bad_token(account, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_LOOPBACK", "wrong-token")
    with pytest.raises(CommandError, match=r"rejected our API token.*HTTP 401"):
        call_command("provider_check", "loopback")


def test_provider_check_fails_when_nothing_listens(account):
    with pytest.raises(CommandError, match="could not be reached"):
        call_command("provider_check", "loopback", "--base-url", "http://127.0.0.1:9")


def test_provider_check_names_a_missing_secret(account, monkeypatch):
    monkeypatch.delenv("PROVIDER_SECRET_LOOPBACK")
    with pytest.raises(CommandError, match="set the environment variable"):
        call_command("provider_check", "loopback")


def test_unknown_account_is_named(db):
    with pytest.raises(CommandError, match="No provider account"):
        call_command("provider_check", "nope")


def test_missing_account_header_is_400_and_bad_token_is_401(sandbox_url):
    with httpx.Client(base_url=sandbox_url, timeout=5) as client:
        missing = client.get("/api/domain_registrations",
                             headers={"Authorization": "Bearer sandbox-token"})
        assert missing.status_code == 400
        assert missing.json()["code"] == "missing_account_header"
        bad = client.get("/api/domain_registrations",
                         headers={"Authorization": "Bearer nope", "X-Auth-Account": "a"})
        assert bad.status_code == 401
        assert bad.json()["code"] == "unauthorized"


def test_the_adapter_times_out_cleanly_over_real_http(account):
    with httpx.Client(base_url=account.base_url, timeout=5, headers={
            "Authorization": "Bearer sandbox-token"}) as control:
        control.post("/_sandbox/faults", json={"path": "/force_sync$", "delay": 2.5})
    account.timeout_seconds = 1.0  # the shortest an account may wait
    provider = build_provider(account)
    try:
        with pytest.raises(TransportError) as caught:
            provider.force_sync(RegistrationRef(
                name="slow.example", upstream_id="00000000-0000-4000-8000-000000000001"))
        assert caught.value.code == "timeout"
    finally:
        provider.close()
