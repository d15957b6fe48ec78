"""The built-in sandbox as a provider: document 001's wire format, reached in-process.

The sandbox (`registrar.sandbox`) is a simulated Domain Registration API. This adapter
is the Domain API adapter with the sandbox's transport and its development token, and
it refuses to exist where the sandbox is switched off (never in production).
"""

from __future__ import annotations

import httpx
from django.conf import settings

from registrar.providers.domain_api.adapter import DomainApiProvider


class SandboxProvider(DomainApiProvider):
    kind = "sandbox"
    display_name = "Built-in sandbox (Domain Registration API wire format)"
    # The sandbox accepts its development token; no secret needs configuring.
    requires_secret = False

    @classmethod
    def unavailable_reason(cls) -> str | None:
        if not settings.SANDBOX_ENABLED:
            return "The sandbox provider is disabled here (SANDBOX_ENABLED is off)."
        return None

    @classmethod
    def default_secret(cls) -> str:
        return settings.SANDBOX_TOKEN

    @classmethod
    def default_transport(cls) -> httpx.BaseTransport:
        from registrar.sandbox import get_app

        return httpx.WSGITransport(app=get_app())
