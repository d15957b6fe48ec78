"""The registry: which adapter serves a kind, the kinds offered, the kinds that can do
something, and the configured client of an account (document 001's kinds stand in for
any)."""

import httpx
import pytest

from registrar.providers import registry
from registrar.providers.base import Capability
from registrar.providers.domain_api.adapter import DomainApiProvider
from registrar.providers.domain_api.sandbox import SandboxProvider
from registrar.providers.errors import ConfigurationError, ServiceUnavailable
from tests.factories import ProviderAccountFactory, RegistrationFactory, TldFactory
from tests.fakes.http import Scripted, respond


def test_adapter_class_of_a_known_kind():
    assert registry.adapter_class("domain_api") is DomainApiProvider
    assert registry.adapter_class("sandbox") is SandboxProvider


def test_adapter_class_of_an_unknown_kind_is_a_configuration_error():
    with pytest.raises(ConfigurationError) as caught:
        registry.adapter_class("carrier_pigeon")

    assert caught.value.code == "unknown_kind"
    assert "carrier_pigeon" in caught.value.message
    assert caught.value.retryable is False


@pytest.mark.parametrize("dotted", ["registrar.providers.no_such_package.adapter.Adapter",
                                    "registrar.providers.domain_api.adapter.NoSuchAdapter"],
                         ids=["missing-module", "missing-class"])
def test_an_adapter_that_cannot_be_loaded_is_a_configuration_error(monkeypatch, dotted):
    monkeypatch.setitem(registry.ADAPTERS, "broken", dotted)

    with pytest.raises(ConfigurationError) as caught:
        registry.adapter_class("broken")

    assert caught.value.code == "adapter_unavailable"
    assert "broken" in caught.value.message
    assert caught.value.details["error"]
    # Offered under its bare kind, able to do nothing, never chosen for anything.
    assert ("broken", "broken") in registry.kind_choices()
    assert registry.provider_capabilities("broken") == frozenset()
    assert "broken" not in registry.kinds_with(Capability.REGISTRATION_READ)


def test_kind_choices_name_every_registered_kind_in_order():
    choices = registry.kind_choices()

    assert [kind for kind, _ in choices] == list(registry.ADAPTERS)
    assert dict(choices)["domain_api"] == "Domain Registration API"
    assert dict(choices)["sandbox"] == SandboxProvider.display_name
    assert registry.display_name("domain_api") == "Domain Registration API"
    assert registry.display_name("carrier_pigeon") == "carrier_pigeon"


def test_kinds_with_needs_every_capability_asked_for():
    processes = registry.kinds_with(Capability.PROCESSES, Capability.HOSTS)
    assert {"domain_api", "sandbox"} <= processes
    for kind in processes:
        assert {Capability.PROCESSES, Capability.HOSTS} <= registry.adapter_class(
            kind).capabilities
    # Document 001 follows orders but lists none: asking for both leaves it out.
    assert "domain_api" in registry.kinds_with(Capability.ORDER_FOLLOW)
    assert "domain_api" not in registry.kinds_with(Capability.ORDER_FOLLOW,
                                                   Capability.ORDER_MIRROR)
    assert not {"domain_api", "sandbox"} & registry.kinds_with(Capability.WEBHOOKS)
    assert registry.kinds_with() == frozenset(registry.ADAPTERS)


def test_provider_capabilities_of_an_unknown_kind_are_none():
    assert registry.provider_capabilities("carrier_pigeon") == frozenset()
    assert registry.provider_capabilities("domain_api") == DomainApiProvider.capabilities


@pytest.mark.django_db
def test_an_account_of_an_unknown_kind_builds_nothing():
    account = ProviderAccountFactory(label="pigeons", kind="carrier_pigeon")

    with pytest.raises(ConfigurationError) as caught:
        registry.build_provider(account)

    assert caught.value.code == "unknown_kind"


@pytest.mark.django_db
def test_an_account_without_its_secret_builds_nothing(monkeypatch):
    monkeypatch.delenv("PROVIDER_SECRET_DOMAIN_API_UNSET", raising=False)
    account = ProviderAccountFactory(label="registrar", kind="domain_api",
                                     base_url="https://api.example.test",
                                     secret_env="PROVIDER_SECRET_DOMAIN_API_UNSET")

    with pytest.raises(ConfigurationError) as caught:
        registry.build_provider(account)

    assert caught.value.code == "missing_credentials"
    assert "PROVIDER_SECRET_DOMAIN_API_UNSET" in caught.value.message


@pytest.mark.django_db
def test_an_account_is_built_from_its_configuration(monkeypatch):
    monkeypatch.setenv("PROVIDER_SECRET_DOMAIN_API", "tok-from-env")
    account = ProviderAccountFactory(label="registrar", kind="domain_api",
                                     base_url="https://api.example.test", account_ref="acct-9",
                                     secret_env="PROVIDER_SECRET_DOMAIN_API")
    upstream = Scripted(respond(200, {"domain_registrations": []}))

    with registry.override_transport("registrar", httpx.MockTransport(upstream)):
        provider = registry.provider_for_account(account)
        assert registry.provider_for_account(account) is provider, "one client per account"
        provider.ping()

    assert type(provider) is DomainApiProvider
    assert provider.label == "registrar"
    request = upstream.only
    assert str(request.url) == "https://api.example.test/api/domain_registrations?page=1&per_page=1"
    assert request.headers["Authorization"] == "Bearer tok-from-env"
    assert request.headers["X-Auth-Account"] == "acct-9"


@pytest.mark.django_db
def test_a_disabled_account_is_refused():
    account = ProviderAccountFactory(label="sandbox", kind="sandbox", enabled=False)

    with pytest.raises(ServiceUnavailable) as caught:
        registry.provider_for_account(account)

    assert caught.value.code == "provider_disabled"
    assert caught.value.retryable is False


@pytest.mark.django_db
def test_a_registration_is_served_by_its_own_account_else_its_tlds(sandbox):
    tld = TldFactory(name="com")
    own = ProviderAccountFactory(label="registrar", kind="domain_api",
                                 base_url="https://api.example.test", secret_env="")
    by_tld = RegistrationFactory(tld=tld)
    by_own = RegistrationFactory(tld=tld, provider_account=own)

    assert registry.provider_for_registration(by_tld) is registry.provider_for_account(
        tld.provider_account)
    with pytest.raises(ConfigurationError) as caught:  # its account has no secret
        registry.provider_for_registration(by_own)
    assert caught.value.code == "missing_credentials"


@pytest.mark.django_db
def test_a_registration_nobody_serves_is_refused():
    registration = RegistrationFactory(tld=TldFactory(name="example", provider_account=None))

    with pytest.raises(ServiceUnavailable) as caught:
        registry.provider_for_registration(registration)

    assert caught.value.code == "registrar_unavailable"
    assert ".example" in caught.value.message
    assert caught.value.retryable is False
