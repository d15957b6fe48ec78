"""The log redaction filter, as the settings attach it: each kind of secret is logged
through a real handler configured from settings.LOGGING, read back, and found masked.
And the session's log guard (tests/log_guard.py) catches a line that leaks one."""

from __future__ import annotations

import copy
import io
import logging
import logging.config
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.conf import settings

from registrar.providers import secrets
from tests.log_guard import GuardHandler, remember_secret, scan

ROOT = Path(__file__).resolve().parents[2]

AUTH_CODE = "Xy7#pQ2!zRk9"
API_KEY = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
JWT = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhcHAtMSIsImV4cCI6MTcwMDAwMDAwMH0."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c")
PORTAL_TOKEN = "bps_1OqZ8dKc3m9T2xWvYhGfPq7rLs"
CHECKOUT_TOKEN = "chk_01HZX9Q2W3E4R5T6Y7U8I9O0P1"
PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def logged():
    """Logging configured from settings.LOGGING, its console writing to a buffer; the
    configuration the suite runs with is put back afterwards."""
    stream = io.StringIO()
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["stream"] = stream
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, [(name, logger.handlers[:], logger.propagate)
                                            for name, logger in
                                            logging.root.manager.loggerDict.items()
                                            if isinstance(logger, logging.Logger)])
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        for name, handlers, propagate in saved[2]:
            logger = logging.getLogger(name)
            logger.handlers[:] = handlers
            logger.propagate = propagate


def lines_of(stream: io.StringIO) -> str:
    for handler in logging.getLogger().handlers:
        handler.flush()
    return stream.getvalue()


def test_every_handler_in_the_settings_carries_the_filter():
    for name, handler in settings.LOGGING["handlers"].items():
        assert "redact" in handler.get("filters", []), name
    assert settings.LOGGING["filters"]["redact"]["()"] == "backoffice.logredact.RedactFilter"


def test_bearer_tokens_and_authorization_headers_are_masked(logged):
    log = logging.getLogger("registrar.providers")
    log.warning("sent Authorization: Bearer %s to the registrar", API_KEY)
    log.warning("headers %s", {"Authorization": f"Bearer {JWT}", "Accept": "application/json"})
    log.warning("basic credentials: Basic dXNlcjpzZWNyZXQtdG9rZW4tdmFsdWU=")
    text = lines_of(logged)
    assert API_KEY not in text and JWT not in text
    assert "dXNlcjpzZWNyZXQtdG9rZW4tdmFsdWU=" not in text
    assert "Bearer ***" in text or "Authorization: ***" in text
    assert "application/json" in text  # the rest of the line stays readable


@pytest.mark.parametrize("body", [
    '{"auth_code": "%s"}', '{"authCode":"%s","domain":"example.com"}', "authcode=%s&x=1",
    "epp: %s", "{'password': '%s'}", '{"token": "%s"}', '{"secret": "%s"}',
    '{"api_key": "%s"}', "signature=%s", '{"data": {"authorizationCode": "%s"}}',
])
def test_values_of_secret_keys_are_masked(logged, body):
    logging.getLogger("registrar.providers").warning(
        "sandbox PATCH /x -> 422: %s", body % AUTH_CODE)
    text = lines_of(logged)
    assert AUTH_CODE not in text
    assert "***" in text and "-> 422" in text


def test_link_tokens_of_portal_and_checkout_links_are_masked(logged):
    log = logging.getLogger("registrar.providers")
    log.warning("sandbox -> 402: %s", '{"code": "payment_required", "portal_url": '
                f'"https://portal.example.test/p/{PORTAL_TOKEN}"}}')
    log.info("order placed, checkoutUrl=https://buy.paddle.com/checkout/%s?_ptxn=txn_%s",
             CHECKOUT_TOKEN, "01HZX9Q2W3E4R5T6Y7")
    log.info("redirecting to https://billing.example/session/%s", PORTAL_TOKEN)
    text = lines_of(logged)
    assert PORTAL_TOKEN not in text and CHECKOUT_TOKEN not in text
    assert "01HZX9Q2W3E4R5T6Y7" not in text
    assert "https://portal.example.test/p/***" in text  # which portal stays readable
    assert "https://buy.paddle.com/checkout/***" in text


def test_jwts_and_known_secret_values_are_masked_anywhere(logged):
    secrets.remember(PASSWORD)
    log = logging.getLogger("billing")
    log.error("the upstream said: cannot decode %s", JWT)
    log.error("login for %s failed", PASSWORD)
    with secrets.hiding("EPP-in-flight-code-77"):
        log.error("auth code EPP-in-flight-code-77 is wrong")
    text = lines_of(logged)
    assert JWT not in text and PASSWORD not in text and "EPP-in-flight-code-77" not in text
    assert "auth code *** is wrong" in text


def test_a_traceback_is_masked_too(logged):
    try:
        raise ValueError(f"upstream echoed token={API_KEY}")
    except ValueError:
        logging.getLogger("registrar").exception("call failed")
    text = lines_of(logged)
    assert "Traceback" in text and "ValueError" in text
    assert API_KEY not in text


def test_the_http_client_logs_an_error_body_without_its_secrets(logged):
    import httpx

    from registrar.providers.base import RegistrationRef
    from registrar.providers.domain_api.adapter import DomainApiProvider
    from registrar.providers.errors import ProviderError
    from tests.registrar.providers.domain_api.shapes import BASE_URL

    body = {"errors": [f"bad token {API_KEY}"], "code": "payment_required",
            "price": {"amount_cents": 500, "currency": "USD", "role": "privacy"},
            "portal_url": f"https://portal.example.test/p/{PORTAL_TOKEN}"}
    provider = DomainApiProvider(base_url=BASE_URL, token=API_KEY, account_ref="acct",
                                 transport=httpx.MockTransport(
                                     lambda request: httpx.Response(402, json=body)))
    with pytest.raises(ProviderError):
        provider.get_registration(RegistrationRef(
            name="example.com", upstream_id="7d9c2b1e-4f3a-4c5d-9e8f-0a1b2c3d4e5f"))
    text = lines_of(logged)
    assert "-> 402" in text and "payment_required" in text
    assert API_KEY not in text and PORTAL_TOKEN not in text


# --- the session's guard -------------------------------------------------------------------


def test_the_guard_finds_a_line_that_contains_a_secret_the_tests_used():
    handler = GuardHandler()
    handler.test = "tests/example.py::test_leaky"
    record = logging.LogRecord("leaky", logging.WARNING, __file__, 1,
                               "customer code %s", ("plain-auth-code-123",), None)
    handler.handle(record)
    handler.handle(logging.LogRecord("fine", logging.INFO, __file__, 2, "all is well", (),
                                     None))
    leaks = scan(handler.lines, {"plain-auth-code-123", "short"})
    assert [(leak.test, leak.secret) for leak in leaks] == [
        ("tests/example.py::test_leaky", "plain-auth-code-123")]
    # A secret the filter recognises is masked before the guard reads the line.
    masked = GuardHandler()
    masked.handle(logging.LogRecord("fine", logging.INFO, __file__, 3, "token=%s",
                                    ("masked-token-456",), None))
    assert scan(masked.lines, {"masked-token-456"}) == []
    remember_secret("x")  # too short to check: ignored, never a false alarm


def test_a_leak_fails_the_whole_run(tmp_path):
    (tmp_path / "test_leak.py").write_text(textwrap.dedent('''
        import logging
        from tests.log_guard import remember_secret

        def test_leaks_a_code():
            remember_secret("leaked-auth-code-789")
            logging.getLogger("leaky").warning("customer code leaked-auth-code-789")

        def test_masked_is_fine():
            remember_secret("fine-auth-code-000")
            logging.getLogger("fine").warning("auth_code=fine-auth-code-000")
    '''), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.log_guard", "-p", "no:cacheprovider",
         "-q", "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "2 passed" in run.stdout
    assert "log guard: 1 log line(s) contain a secret" in run.stdout
    assert "test_leak.py::test_leaks_a_code" in run.stdout
    assert "fine-auth-code-000" not in run.stdout
