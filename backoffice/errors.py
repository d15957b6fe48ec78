"""403 and 404 inside the admin's layout: the header, the user's menu and a way back,
instead of a bare page that leaves staff nowhere to go."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def _page(request: HttpRequest, template: str, status: int, **context) -> HttpResponse:
    base = admin.site.each_context(request) if getattr(request, "user", None) else {}
    response = TemplateResponse(request, template, {**base, **context}, status=status)
    return response.render()


def forbidden(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    reason = str(exception) if exception and str(exception) else ""
    return _page(request, "403.html", 403, title="Not allowed", reason=reason)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _page(request, "404.html", 404, title="Not found")
