"""The Domain Registration API (document 001), and the built-in sandbox that speaks it."""

from registrar.providers.domain_api.adapter import DomainApiProvider

__all__ = ["DomainApiProvider"]
