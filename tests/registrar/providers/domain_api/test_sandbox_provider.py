"""The sandbox as a provider kind: the Domain API adapter on the sandbox's own transport
and token, built by the registry, and refused wherever the sandbox is switched off."""

import httpx
import pytest
from django.conf import settings
from django.test import override_settings

from registrar.providers import registry
from registrar.providers.domain_api.adapter import DomainApiProvider
from registrar.providers.domain_api.sandbox import SandboxProvider
from registrar.providers.errors import AuthenticationFailed, ConfigurationError
from tests.factories import ProviderAccountFactory
from tests.fakes.sandbox import SandboxControl


def test_it_is_the_domain_api_under_its_own_kind():
    assert registry.adapter_class("sandbox") is SandboxProvider
    assert issubclass(SandboxProvider, DomainApiProvider)
    assert SandboxProvider.kind == "sandbox"
    assert SandboxProvider.capabilities == DomainApiProvider.capabilities
    assert ("sandbox", SandboxProvider.display_name) in registry.kind_choices()
    # Its development token needs no configuring; the account reference still does.
    assert SandboxProvider.requires_secret is False
    assert SandboxProvider.requires_account_ref is True
    assert DomainApiProvider.requires_secret is True


@pytest.mark.django_db
@pytest.mark.parametrize("secret_env", ["", "PROVIDER_SECRET_SANDBOX_NOT_SET"],
                         ids=["none", "unset"])
def test_it_falls_back_on_the_sandbox_token(sandbox, monkeypatch, secret_env):
    monkeypatch.delenv("PROVIDER_SECRET_SANDBOX_NOT_SET", raising=False)
    account = ProviderAccountFactory(label="sandbox", kind="sandbox", secret_env=secret_env)

    provider = registry.provider_for_account(account)
    provider.ping()

    assert type(provider) is SandboxProvider
    (request,) = sandbox.transport.requests
    assert request.headers["Authorization"] == f"Bearer {settings.SANDBOX_TOKEN}"
    assert request.headers["X-Auth-Account"] == "test-account"
    assert request.url.path == "/api/domain_registrations"


@pytest.mark.django_db
def test_a_secret_in_the_environment_wins_over_the_sandbox_token(sandbox, monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_OTHER_SANDBOX", "not-the-sandbox-token")
    account = ProviderAccountFactory(label="sandbox", kind="sandbox",
                                     secret_env="PROVIDER_SECRET_OTHER_SANDBOX")

    with pytest.raises(AuthenticationFailed) as caught:
        registry.provider_for_account(account).ping()

    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    (request,) = sandbox.transport.requests
    assert request.headers["Authorization"] == "Bearer not-the-sandbox-token"


@pytest.mark.django_db
def test_without_an_override_it_reaches_the_in_process_sandbox():
    from registrar.sandbox import reset_sandbox

    control = SandboxControl(reset_sandbox())
    control.client.post("/_sandbox/seed", json={"tlds": [{"name": "com"}]}).raise_for_status()
    # No transport override for this label: the adapter's own default transport is used.
    account = ProviderAccountFactory(label="sandbox-own-transport", kind="sandbox")
    provider = registry.build_provider(account)
    try:
        contact = provider.create_contact(tld_name=".com", contact={
            "first_name": "Ada", "last_name": "Lovelace", "organization": "",
            "street_address": "12 Byron Road", "post_code": "1011AB", "city": "Amsterdam",
            "country": "NL", "email": "ada@example.com", "phone": "+31.201234567"})
        state = control.state()
    finally:
        provider.close()
        reset_sandbox()

    assert isinstance(SandboxProvider.default_transport(), httpx.WSGITransport)
    # The sandbox's own state holds the contact: the request reached the app in-process.
    assert state["contacts"][str(contact.upstream_id)]["email"] == "ada@example.com"


@pytest.mark.django_db
def test_it_refuses_to_build_where_the_sandbox_is_switched_off(sandbox):
    account = ProviderAccountFactory(label="sandbox", kind="sandbox")

    with override_settings(SANDBOX_ENABLED=False), pytest.raises(ConfigurationError) as caught:
        registry.build_provider(account)

    assert caught.value.code == "provider_unavailable"
    assert "SANDBOX_ENABLED is off" in caught.value.message
    assert caught.value.retryable is False
    assert sandbox.transport.requests == []


def test_it_says_why_it_is_unavailable():
    with override_settings(SANDBOX_ENABLED=False):
        assert "SANDBOX_ENABLED" in SandboxProvider.unavailable_reason()
    with override_settings(SANDBOX_ENABLED=True):
        assert SandboxProvider.unavailable_reason() is None
    assert DomainApiProvider.unavailable_reason() is None
