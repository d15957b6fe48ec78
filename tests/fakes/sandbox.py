"""The Domain Registration API's fake is the built-in sandbox (registrar.sandbox), which
keeps its own state and can be driven into every documented branch. These wrap it for
tests: what left, in order, and its control endpoints."""

from __future__ import annotations

import httpx
from django.conf import settings as django_settings

from tests.log_guard import remember_exchange


class RecordingTransport(httpx.BaseTransport):
    """Passes requests to the sandbox and remembers each one: what left, in order."""

    def __init__(self, inner: httpx.BaseTransport):
        self.inner = inner
        self.requests: list[httpx.Request] = []
        self._failures: list[Exception] = []

    def fail_next(self, error: Exception) -> None:
        """The next request dies with `error` (e.g. httpx.ReadTimeout) after it left."""
        self._failures.append(error)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if self._failures:
            raise self._failures.pop(0)
        response = self.inner.handle_request(request)
        remember_exchange(request, response)  # auth codes, portal links, the token
        return response

    def sent(self, method: str | None = None, path_suffix: str = "") -> list[httpx.Request]:
        return [r for r in self.requests
                if (method is None or r.method == method) and r.url.path.endswith(path_suffix)]

    @property
    def mutations(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method != "GET"]


class SandboxControl:
    """Drives the sandbox's own control endpoints (docs/domain-api.md)."""

    def __init__(self, app):
        self.client = httpx.Client(
            transport=httpx.WSGITransport(app=app), base_url="http://sandbox.invalid",
            headers={"Authorization": f"Bearer {django_settings.SANDBOX_TOKEN}",
                     "X-Auth-Account": "test-account"})

    def fault(self, path: str, *, method: str = "*", status: int | None = None,
              code: str = "", body: str | None = None, content_type: str | None = None,
              delay: float = 0, times: int = 1, after: bool = False) -> None:
        """Queue a fault; with no status and no body it only delays the real answer;
        `after`: the request is handled first and its answer replaced."""
        payload = {"method": method, "path": path, "code": code, "delay": delay,
                   "times": times, "after": after}
        if status is not None:
            payload["status"] = status
        if body is not None:
            payload.update(body=body, content_type=content_type or "application/json")
        self.client.post("/_sandbox/faults", json=payload).raise_for_status()

    def next_async(self, registration_guid: str, *, polls: int = 2, outcome: str = "COMPLETED",
                   action: str = "*", times: int = 1) -> None:
        self.client.post("/_sandbox/async", json={
            "registration": registration_guid, "action": action, "polls": polls,
            "outcome": outcome, "times": times}).raise_for_status()

    def state(self) -> dict:
        return self.client.get("/_sandbox/state").json()

    def registration(self, guid: str) -> dict:
        return self.client.get(f"/api/domain_registrations/{guid}").json()[
            "domain_registration"]
