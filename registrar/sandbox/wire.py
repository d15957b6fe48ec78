"""The sandbox's HTTP vocabulary: a parsed request, a response, and the error that
handlers raise to answer with document 001's error body.

Kept free of routing and state so every other sandbox module can use it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Json = dict[str, Any]


class ApiError(Exception):
    """Raised by a handler to answer `status` with `{"errors": [message], "code": code}`.

    `extra` adds keys to the body (`violations`, `price`, `portal_url`, ...). Raised
    inside a state transaction, it also rolls back whatever the handler had changed.
    """

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def body(self) -> Json:
        return {"errors": [self.message], "code": self.code, **self.extra}


def invalid(message: str, **extra: Any) -> ApiError:
    """A 422 for malformed input that document 001 gives no code of its own."""
    return ApiError(422, "invalid_params", message, **extra)


@dataclass
class Request:
    """One parsed request. Header names are lower case; `params` are the route's groups."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Json = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)

    @property
    def token(self) -> str:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        return value.strip() if scheme.lower() == "bearer" else ""

    @property
    def account(self) -> str:
        return self.headers.get("x-auth-account", "").strip()

    @property
    def idempotency_key(self) -> str:
        return self.headers.get("idempotency-key", "").strip()

    def arg(self, name: str) -> str | None:
        """The first value of query parameter `name`, or None."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class Response:
    """What a handler answers. `raw` bodies (bytes) are sent as they are, without
    X-Request-Id: they stand for something in front of the API answering."""

    status: int
    body: Any = None
    content_type: str = "application/json"
    raw: bool = False
    headers: dict[str, str] = field(default_factory=dict)


def ok(body: Json, status: int = 200) -> Response:
    return Response(status, body)


def no_content() -> Response:
    return Response(204)


def error(status: int, code: str, message: str, **extra: Any) -> Response:
    return Response(status, ApiError(status, code, message, **extra).body())
