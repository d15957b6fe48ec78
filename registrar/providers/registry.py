"""Which adapter serves which provider account, and the configured client for it.

Adapters are imported on first use, so a deployment that never talks to an upstream
never imports its module. One client per account is built lazily and shared (httpx
clients are thread-safe and pool connections); editing the account rebuilds it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from typing import TYPE_CHECKING

import httpx
from django.conf import settings

from registrar.providers.base import ConfigurationError, Provider, ServiceUnavailable

if TYPE_CHECKING:
    from registrar.models import ProviderAccount, Registration

ADAPTERS: dict[str, str] = {
    "domain_api": "registrar.providers.domain_api.DomainApiProvider",
    # The sandbox speaks document 001's wire format; only the transport differs.
    "sandbox": "registrar.providers.domain_api.DomainApiProvider",
    "entri": "registrar.providers.entri.EntriProvider",
    "domainee": "registrar.providers.domainee.DomaineeProvider",
    "saleshandy": "registrar.providers.saleshandy.SaleshandyProvider",
    "namecom": "registrar.providers.namecom.NamecomProvider",
}

TransportFactory = Callable[["ProviderAccount"], httpx.BaseTransport | None]

_lock = threading.Lock()
_clients: dict[tuple[int, str], Provider] = {}
_transport_overrides: dict[str, httpx.BaseTransport] = {}


def adapter_class(kind: str) -> type[Provider]:
    try:
        dotted = ADAPTERS[kind]
    except KeyError:
        raise ConfigurationError(f"No adapter for provider kind “{kind}”.",
                                 code="unknown_kind") from None
    module_name, class_name = dotted.rsplit(".", 1)
    try:
        return getattr(import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(f"The adapter for “{kind}” cannot be loaded.",
                                 code="adapter_unavailable", details={"error": str(exc)}
                                 ) from exc


def provider_capabilities(kind: str) -> frozenset:
    """What an adapter kind can do, without building a client (no secret needed)."""
    try:
        return adapter_class(kind).capabilities
    except ConfigurationError:
        return frozenset()


def _secret(account: ProviderAccount) -> str:
    if account.kind == "sandbox":
        return os.environ.get(account.secret_env or "", "") or settings.SANDBOX_TOKEN
    value = os.environ.get(account.secret_env, "") if account.secret_env else ""
    if not value:
        raise ConfigurationError(
            f"Provider account “{account.label}” has no secret: set the environment "
            f"variable {account.secret_env or '(none named on the account)'}.",
            code="missing_credentials",
        )
    return value


def _transport(account: ProviderAccount) -> httpx.BaseTransport | None:
    if account.label in _transport_overrides:
        return _transport_overrides[account.label]
    if account.kind == "sandbox":
        if not settings.SANDBOX_ENABLED:
            raise ConfigurationError(
                "The sandbox provider is disabled here (SANDBOX_ENABLED is off).",
                code="sandbox_disabled",
            )
        from registrar.sandbox import get_app

        return httpx.WSGITransport(app=get_app())
    return None


def build_provider(account: ProviderAccount) -> Provider:
    """A new client for `account` (callers normally want `provider_for_account`)."""
    cls = adapter_class(account.kind)
    extra = {"options": dict(account.options or {})} if getattr(
        cls, "takes_options", False) else {}
    return cls(
        base_url=account.base_url,
        token=_secret(account),
        account_ref=account.account_ref,
        timeout=account.timeout_seconds,
        user_agent=settings.PROVIDER_USER_AGENT,
        transport=_transport(account),
        label=account.label,
        **extra,
    )


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
    account = registration.tld.provider_account
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
