"""Which adapter serves which provider account, and the configured client for it.

`ADAPTERS` is the one list of upstream kinds: a new upstream is its own package under
`registrar/providers/` plus one line here (docs/adding-a-provider.md). Adapters are
imported on first use, so a deployment that never talks to an upstream never imports
its module. One client per account is built lazily and shared (httpx clients are
thread-safe and pool connections); editing the account rebuilds it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from importlib import import_module
from typing import Any, Protocol

import httpx
from django.conf import settings

from registrar.providers.base import Capability, Provider
from registrar.providers.endpoints import base_url_problem, timeout_problem
from registrar.providers.errors import ConfigurationError, ServiceUnavailable
from registrar.providers.secrets import read_secret


class ProviderAccount(Protocol):
    """What the registry reads of a provider account (registrar.models.ProviderAccount):
    the provider layer knows no model, only this shape."""

    pk: Any
    label: str
    kind: str
    base_url: str
    account_ref: str
    secret_env: str
    timeout_seconds: float
    enabled: bool
    options: dict[str, Any]
    updated_at: datetime | None


class _Tld(Protocol):
    name: str


class Registration(Protocol):
    """What the registry reads of a registration: where it lives."""

    tld: _Tld

    @property
    def served_by(self) -> ProviderAccount | None: ...

ADAPTERS: dict[str, str] = {
    "domain_api": "registrar.providers.domain_api.adapter.DomainApiProvider",
    "sandbox": "registrar.providers.domain_api.sandbox.SandboxProvider",
    "entri": "registrar.providers.entri.adapter.EntriProvider",
    "domainee": "registrar.providers.domainee.adapter.DomaineeProvider",
    "saleshandy": "registrar.providers.saleshandy.adapter.SaleshandyProvider",
    "namecom": "registrar.providers.namecom.adapter.NamecomProvider",
}

_lock = threading.Lock()
_clients: dict[tuple[int, str], Provider] = {}
_transport_overrides: dict[str, httpx.BaseTransport] = {}


@cache
def _load(dotted: str) -> type[Provider]:
    module_name, class_name = dotted.rsplit(".", 1)
    return getattr(import_module(module_name), class_name)


def adapter_class(kind: str) -> type[Provider]:
    try:
        dotted = ADAPTERS[kind]
    except KeyError:
        raise ConfigurationError(f"No adapter for provider kind “{kind}”.",
                                 code="unknown_kind") from None
    try:
        return _load(dotted)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"The adapter for “{kind}” cannot be loaded.",
                                 code="adapter_unavailable", details={"error": str(exc)}
                                 ) from exc


def kind_choices() -> list[tuple[str, str]]:
    """(kind, display name) of every registered upstream: ProviderAccount.kind's choices,
    read when a form or check needs them, so a new kind needs no migration."""
    choices = []
    for kind in ADAPTERS:
        try:
            choices.append((kind, adapter_class(kind).display_name or kind))
        except ConfigurationError:
            choices.append((kind, kind))
    return choices


def display_name(kind: str) -> str:
    return dict(kind_choices()).get(kind, kind)


def provider_capabilities(kind: str) -> frozenset[Capability]:
    """What an adapter kind can do, without building a client (no secret needed)."""
    try:
        return adapter_class(kind).capabilities
    except ConfigurationError:
        return frozenset()


def kinds_with(*capabilities: Capability) -> frozenset[str]:
    """The kinds whose adapter declares every one of `capabilities`."""
    return frozenset(kind for kind in ADAPTERS
                     if set(capabilities) <= provider_capabilities(kind))


def _secret(account: ProviderAccount, cls: type[Provider]) -> str:
    value = read_secret(account.secret_env, account_label=account.label) \
        if account.secret_env else ""
    if value:
        return value
    value = cls.default_secret()
    if not value and (cls.requires_secret or account.secret_env):
        raise ConfigurationError(
            f"Provider account “{account.label}” has no secret: set the environment "
            f"variable {account.secret_env or '(none named on the account)'}.",
            code="missing_credentials",
        )
    return value


def _transport(account: ProviderAccount, cls: type[Provider]) -> httpx.BaseTransport | None:
    if account.label in _transport_overrides:
        return _transport_overrides[account.label]
    return cls.default_transport()


def check_account(account: ProviderAccount) -> None:
    """Refuse, before any secret is read or request sent, an account whose base URL or
    timeout the rules refuse (a row stored before they existed, or edited around them).
    The secret variable's name is checked when the secret is read."""
    problem = base_url_problem(account.base_url) or timeout_problem(account.timeout_seconds)
    if problem:
        raise ConfigurationError(
            f"Provider account “{account.label}” cannot be used: {problem} Nothing was sent.",
            code="invalid_endpoint")


def build_provider(account: ProviderAccount) -> Provider:
    """A new client for `account` (callers normally want `provider_for_account`)."""
    cls = adapter_class(account.kind)
    reason = cls.unavailable_reason()
    if reason:
        raise ConfigurationError(reason, code="provider_unavailable")
    check_account(account)
    try:
        return cls(
            base_url=account.base_url,
            token=_secret(account, cls),
            account_ref=account.account_ref,
            timeout=account.timeout_seconds,
            user_agent=settings.PROVIDER_USER_AGENT,
            transport=_transport(account, cls),
            label=account.label,
            options=dict(account.options or {}),
        )
    except UnicodeError as error:
        # httpx refuses a header value that is not ASCII (an account id stored around
        # the form's rules): the client cannot be built, so nothing was sent.
        raise ConfigurationError(
            f"Provider account “{account.label}” cannot be used: a value it sends as a "
            "header (such as its account id) is not plain ASCII. Nothing was sent.",
            code="invalid_account") from error


def provider_for_account(account: ProviderAccount) -> Provider:
    if not account.enabled:
        raise ServiceUnavailable(f"Provider account “{account.label}” is disabled.",
                                 code="provider_disabled", retryable=False)
    key = (account.pk, account.updated_at.isoformat() if account.updated_at else "")
    with _lock:
        provider = _clients.get(key)
        if provider is None:
            provider = build_provider(account)
            _clients[key] = provider
        return provider


def provider_for_registration(registration: Registration) -> Provider:
    account = registration.served_by
    if account is None:
        raise ServiceUnavailable(
            f"No registrar is configured for .{registration.tld.name}.",
            code="registrar_unavailable", retryable=False,
        )
    return provider_for_account(account)


def reset_clients() -> None:
    """Close and forget every client (tests, and after configuration changes)."""
    with _lock:
        for provider in _clients.values():
            provider.close()
        _clients.clear()


@contextmanager
def override_transport(label: str, transport: httpx.BaseTransport) -> Iterator[None]:
    """Route the account `label` through `transport` (tests: httpx.MockTransport)."""
    reset_clients()
    _transport_overrides[label] = transport
    try:
        yield
    finally:
        _transport_overrides.pop(label, None)
        reset_clients()
