"""Fake upstreams at the HTTP boundary: one per provider kind, each an httpx handler
that speaks its document's wire format and keeps its own state. The built-in sandbox
(registrar.sandbox) is the Domain Registration API's; `http` holds what they share."""
