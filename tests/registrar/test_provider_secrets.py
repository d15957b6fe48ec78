"""A provider account can send its secret only to an https registrar, only a secret held
under PROVIDER_SECRET_, and only within a bounded timeout: checked in the model (admin
form), by configure_provider and again when a client is built, so an old row sends
nothing. Both commands leave an audit row; `--as` names an active staff user."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from backoffice.models import StaffAction
from backoffice.roles import ADMIN, SUPPORT
from registrar.models import ProviderAccount, Tld
from registrar.providers.endpoints import base_url_problem, https_link
from registrar.providers.errors import ConfigurationError
from registrar.providers.registry import build_provider, override_transport
from registrar.providers.secrets import read_secret, secret_env_problem
from tests.factories import ProviderAccountFactory, RegistrationFactory, TldFactory, UserFactory
from tests.fakes.http import Scripted, respond

API = "https://api.registrar.example"
PING_OK = respond(200, {"domain_registrations": [], "meta": {"total": 0}})


def listener(label: str) -> Scripted:
    """Every request the account `label` sends, whatever its base URL says."""
    return Scripted(PING_OK)


def stored(**fields) -> ProviderAccount:
    """An account as an old row may hold it: saved without the validators."""
    account = ProviderAccountFactory(label="main-api", kind="domain_api", base_url=API,
                                     account_ref="acct-1",
                                     secret_env="PROVIDER_SECRET_MAIN_API")
    ProviderAccount.objects.filter(pk=account.pk).update(**fields)
    account.refresh_from_db()
    return account


# --- which variables may hold a secret ----------------------------------------------------


@pytest.mark.parametrize("name", ["PROVIDER_SECRET_ENTRI_KEY", "PROVIDER_SECRET_ENTRI_KEY_FILE",
                                  "PROVIDER_SECRET_X1"])
def test_names_under_the_prefix_are_accepted(name):
    assert secret_env_problem(name) is None


@pytest.mark.parametrize("name", ["SECRET_KEY", "DATABASE_URL", "AWS_SECRET_ACCESS_KEY",
                                  "PROVIDER_SECRET_", "PROVIDER_SECRET_FILE",
                                  "provider_secret_x", "PROVIDER_SECRET_X-1", "sk_live_123"])
def test_names_outside_the_prefix_are_refused(name):
    assert secret_env_problem(name)


def test_the_model_refuses_a_secret_variable_outside_the_prefix(db):
    account = ProviderAccount(label="exfil", kind="domain_api", base_url=API,
                              secret_env="SECRET_KEY")
    with pytest.raises(ValidationError) as refused:
        account.full_clean()
    assert "start with PROVIDER_SECRET_" in " ".join(refused.value.message_dict["secret_env"])


def test_the_model_refuses_a_webhook_secret_variable_outside_the_prefix(db):
    account = ProviderAccount(label="exfil", kind="domainee", base_url=API,
                              options={"webhook_secret_env": "DATABASE_URL"})
    with pytest.raises(ValidationError) as refused:
        account.full_clean()
    assert "webhook_secret_env" in " ".join(refused.value.message_dict["options"])
    account.options = {"webhook_secret_env": "PROVIDER_SECRET_EXFIL_WEBHOOK"}
    account.full_clean()


def test_the_admin_form_refuses_them_and_saves_nothing(client, admin_user_role):
    client.force_login(admin_user_role)
    response = client.post(reverse("admin:registrar_provideraccount_add"), {
        "label": "exfil", "kind": "domain_api", "base_url": "http://127.0.0.1:8765",
        "account_ref": "", "secret_env": "SECRET_KEY", "timeout_seconds": "0.5",
        "enabled": "on", "options": "{}"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "start with PROVIDER_SECRET_" in " ".join(errors["secret_env"])
    assert "https" in " ".join(errors["base_url"])
    assert "between 1 and 60 seconds" in " ".join(errors["timeout_seconds"])
    assert not ProviderAccount.objects.filter(label="exfil").exists()


def test_a_file_variable_holds_the_path_of_the_secret(db, tmp_path, monkeypatch):
    secret_file = tmp_path / "main-api-key"
    secret_file.write_text("key-from-a-docker-secret\n", encoding="utf-8")
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API_FILE", str(secret_file))
    account = stored(secret_env="PROVIDER_SECRET_MAIN_API_FILE")
    upstream = listener(account.label)
    with override_transport(account.label, httpx.MockTransport(upstream)):
        call_command("provider_check", account.label)
    assert upstream.only.headers["Authorization"] == "Bearer key-from-a-docker-secret"


def test_an_unreadable_secret_file_is_refused_by_name(db, tmp_path, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API_FILE", str(tmp_path / "missing"))
    with pytest.raises(ConfigurationError, match="PROVIDER_SECRET_MAIN_API_FILE cannot be read"):
        read_secret("PROVIDER_SECRET_MAIN_API_FILE", account_label="main-api")


# --- the reproduction: an Admin points an account at a listener --------------------------


def test_an_old_row_naming_secret_key_sends_nothing_and_is_audited(db, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "the-django-secret-key-value")
    account = stored(secret_env="SECRET_KEY")
    upstream = listener(account.label)
    with override_transport(account.label, httpx.MockTransport(upstream)), \
            pytest.raises(CommandError, match=r"may not be used.*Nothing was sent"):
        call_command("provider_check", account.label)
    assert upstream.requests == []
    (row,) = StaffAction.objects.all()
    assert (row.action, row.outcome, row.upstream_code) == (
        "provider_account.check", StaffAction.Outcome.FAILED, "secret_env_refused")
    assert row.actor is None and row.actor_label == "manage.py provider_check"
    assert "the-django-secret-key-value" not in json.dumps(row.parameters) + row.message


@pytest.mark.parametrize("base_url", ["http://127.0.0.1:8765", "https://127.0.0.1:8765",
                                      "http://api.registrar.example", "https://10.1.2.3",
                                      "https://169.254.169.254/latest/meta-data"])
def test_an_old_row_with_a_refused_base_url_sends_nothing(db, monkeypatch, base_url):
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API", "main-api-key-value")
    account = stored(base_url=base_url)
    upstream = listener(account.label)
    with override_transport(account.label, httpx.MockTransport(upstream)), \
            pytest.raises(CommandError, match=r"cannot be used.*Nothing was sent"):
        call_command("provider_check", account.label)
    assert upstream.requests == []
    assert StaffAction.objects.get().upstream_code == "invalid_endpoint"


def test_a_base_url_given_on_the_command_line_follows_the_same_rules(db, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API", "main-api-key-value")
    account = stored()
    upstream = listener(account.label)
    with override_transport(account.label, httpx.MockTransport(upstream)), \
            pytest.raises(CommandError, match="may not point at this machine"):
        call_command("provider_check", account.label, "--base-url", "https://localhost:9")
    assert upstream.requests == []


@pytest.mark.parametrize("seconds", [0.1, 0.99, 60.5, 3600])
def test_an_old_row_with_an_unbounded_timeout_sends_nothing(db, monkeypatch, seconds):
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API", "main-api-key-value")
    account = stored(timeout_seconds=seconds)
    upstream = listener(account.label)
    with override_transport(account.label, httpx.MockTransport(upstream)), \
            pytest.raises(ConfigurationError, match="between 1 and 60 seconds"):
        build_provider(account)
    assert upstream.requests == []


def test_development_allows_loopback_http(db, monkeypatch, settings):
    settings.PROVIDER_LOOPBACK_HTTP_ALLOWED = True
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API", "main-api-key-value")
    account = stored(base_url="http://127.0.0.1:8765")
    upstream = listener(account.label)
    with override_transport(account.label, httpx.MockTransport(upstream)):
        call_command("provider_check", account.label)
    assert str(upstream.only.url).startswith("http://127.0.0.1:8765/")
    # ... but not private addresses, nor plain http elsewhere.
    assert base_url_problem("http://api.registrar.example")
    assert base_url_problem("https://192.168.1.10")


@pytest.mark.parametrize("url", [
    "http://api.registrar.example", "ftp://api.registrar.example", "https://",
    "https://localhost", "https://LOCALHOST.", "https://api.localhost",
    "https://127.0.0.1", "https://127.1", "https://2130706433", "https://0x7f000001",
    "https://[::1]", "https://[::ffff:127.0.0.1]", "https://0.0.0.0", "https://[::]",
    "https://10.0.0.1", "https://172.16.5.4", "https://192.168.0.1", "https://100.64.0.1",
    "https://169.254.169.254", "https://[fe80::1]", "https://[fd00::1]", "https://224.0.0.1",
    "https://240.0.0.1", "https://user:password@api.registrar.example",
    "https://api.registrar.example:99999",
])
def test_base_urls_that_are_refused_outside_development(url):
    assert base_url_problem(url)


@pytest.mark.parametrize("url", ["https://api.registrar.example/v2", "https://93.184.216.34",
                                 "https://[2606:4700::1111]/api", "https://sandbox.invalid"])
def test_https_base_urls_on_public_hosts_are_accepted(url):
    assert base_url_problem(url) is None


def test_a_webhook_secret_outside_the_prefix_is_never_read(client, db, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "the-django-secret-key-value")
    account = ProviderAccountFactory(label="domainee-main", kind="domainee",
                                     base_url="https://api.domainee.test")
    ProviderAccount.objects.filter(pk=account.pk).update(
        options={"webhook_secret_env": "SECRET_KEY"})
    response = client.post("/webhooks/domainee/domainee-main/", data=json.dumps(
        {"id": "evt_1", "type": "domain_purchase.completed", "data": {}}),
        content_type="application/json", HTTP_X_WEBHOOK_SECRET="the-django-secret-key-value")
    assert response.status_code == 503


# --- configure_provider: the same rules, and an audit row ---------------------------------


CONFIGURE = ("configure_provider", "main-api", "--kind", "domain_api", "--base-url",
             "https://api.registrar.example/v2", "--secret-env", "PROVIDER_SECRET_MAIN_API",
             "--tld", "com")


def test_configure_provider_refuses_database_url_and_writes_nothing(db):
    with pytest.raises(CommandError, match="start with PROVIDER_SECRET_"):
        call_command(*CONFIGURE[:6], "--secret-env", "DATABASE_URL")
    assert not ProviderAccount.objects.exists() and not StaffAction.objects.exists()


def test_configure_provider_writes_one_audit_row_with_old_and_new_values(db, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_MAIN_API", "main-api-key-value")
    call_command(*CONFIGURE)
    created = StaffAction.objects.get()
    account = ProviderAccount.objects.get(label="main-api")
    assert (created.action, created.outcome, created.actor, created.actor_label) == (
        "provider_account.configure", StaffAction.Outcome.SUCCEEDED, None,
        "manage.py configure_provider")
    assert (created.target_type, created.target_id) == ("registrar.provideraccount",
                                                        str(account.pk))
    assert created.parameters["created"] is True
    assert {"field": "secret_env", "old": None, "new": "PROVIDER_SECRET_MAIN_API"} in \
        created.parameters["changes"]
    assert created.parameters["tlds_created"] == ["com"]

    support = UserFactory(username="ops-admin", groups=[ADMIN])
    call_command(*CONFIGURE[:4], "--base-url", "https://api2.registrar.example/v2",
                 "--secret-env", "PROVIDER_SECRET_MAIN_API_FILE", "--timeout", "30",
                 "--as", support.username)
    updated = StaffAction.objects.exclude(pk=created.pk).get()
    assert updated.actor == support and updated.parameters["created"] is False
    assert updated.parameters["changes"] == [
        {"field": "base_url", "old": "https://api.registrar.example/v2",
         "new": "https://api2.registrar.example/v2"},
        {"field": "secret_env", "old": "PROVIDER_SECRET_MAIN_API",
         "new": "PROVIDER_SECRET_MAIN_API_FILE"},
        {"field": "timeout_seconds", "old": 15.0, "new": 30.0},
    ]
    assert "main-api-key-value" not in json.dumps(updated.parameters)

    call_command(*CONFIGURE[:4], "--base-url", "https://api2.registrar.example/v2")
    assert StaffAction.objects.count() == 2  # unchanged: nothing written, no row


def test_provider_check_audits_a_passing_check_with_its_actor(sandbox, admin_user_role,
                                                              support_user):
    account = ProviderAccountFactory(label="sandbox")
    with pytest.raises(CommandError, match="not allowed to check provider accounts"):
        call_command("provider_check", "sandbox", "--as", support_user.username)
    call_command("provider_check", "sandbox", "--as", admin_user_role.username)
    row = StaffAction.objects.get()
    assert (row.action, row.outcome, row.actor) == (
        "provider_account.check", StaffAction.Outcome.SUCCEEDED, admin_user_role)
    assert row.target_id == str(account.pk)
    assert len(sandbox.transport.requests) == 1


# --- --as: only an active staff user ------------------------------------------------------


@pytest.mark.parametrize("command", [
    ("registration", "lock", "example.com"),
    ("approval", "list"),
    ("provider_check", "sandbox"),
    CONFIGURE,
])
@pytest.mark.parametrize(("user", "message"), [
    ({"is_active": False}, "the user “someone” is inactive and cannot act"),
    ({"is_staff": False}, "the user “someone” is not staff"),
    (None, "no user “someone”"),
])
def test_as_names_an_active_staff_user_or_nothing_is_done(sandbox, command, user, message):
    ProviderAccountFactory(label="sandbox")
    TldFactory(name="com")
    RegistrationFactory(name="example.com", tld=Tld.objects.get(name="com"))
    sandbox.seed()
    sandbox.transport.requests.clear()
    if user is not None:
        UserFactory(username="someone", groups=[SUPPORT], **user)
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command(*command, "--as", "someone")
    assert sandbox.transport.requests == []
    assert not StaffAction.objects.exists()
    assert not ProviderAccount.objects.filter(label="main-api").exists()


# --- links an upstream sends back ---------------------------------------------------------


@pytest.mark.parametrize("url", ["javascript:alert(document.cookie)", "http://portal.example/x",
                                 "/portal/relative", "https://", "https:///path",
                                 "https://portal.example/x\" onclick=\"alert(1)", 42, None])
def test_only_https_links_with_a_host_are_kept(url):
    assert https_link(url) == ""


def test_a_javascript_portal_link_is_never_shown(client, sandbox, support_user):
    tld = TldFactory(name="net")
    registration = RegistrationFactory(name="pay-first.net", tld=tld)
    sandbox.seed()
    sandbox.fault(r"/privacy$", method="PATCH", status=402, body=json.dumps({
        "errors": ["Privacy is billed."], "code": "payment_required",
        "price": {"amount_cents": 499, "currency": "USD", "role": "privacy"},
        "portal_url": "javascript:alert(document.cookie)"}))
    client.force_login(support_user)

    response = client.post(reverse("admin:registrar_registration_operation",
                                   args=[registration.pk, "privacy"]), {"enabled": "1"},
                           follow=True)

    html = response.content.decode()
    assert response.status_code == 200 and "4.99 USD" in html
    assert "javascript:" not in html
    assert 'class="portal-link"' not in html and 'id="portal-link-withheld"' not in html
    assert "The registrar sent no usable billing-portal link." in html
    row = StaffAction.objects.get()
    assert row.outcome == StaffAction.Outcome.PAYMENT_REQUIRED
    assert "javascript" not in json.dumps(row.parameters)
