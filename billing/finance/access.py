"""Who may use the finance area, and the context every finance page renders with."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache

FINANCE_PERMISSION = "billing.view_finance"
EXPORT_PERMISSION = "billing.export_orders"


def finance_view(permission: str = FINANCE_PERMISSION) -> Callable:
    """Staff only (anonymous visitors go to the admin login, as in the admin), and
    `permission` or a 403: support staff have orders in the admin but not this area.
    The second factor is due before any view, this one included (backoffice/security/gate.py,
    applied by StaffSessionMiddleware): a password alone never reaches finance."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @never_cache
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not (user.is_active and user.is_staff):
                return redirect_to_login(request.get_full_path(),
                                         login_url="admin:login")
            if not user.has_perm(FINANCE_PERMISSION) or not user.has_perm(permission):
                raise PermissionDenied("The finance area needs the finance permission.")
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def page_context(request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
    """The admin's own context (site header, nav sidebar, user tools) plus ours."""
    return {
        **admin.site.each_context(request),
        "title": title,
        "can_export": request.user.has_perm(EXPORT_PERMISSION),
        **extra,
    }
