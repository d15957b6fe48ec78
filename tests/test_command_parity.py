"""The command line mirrors the admin: every operation staff can do in the admin has a
management command that runs it through the same service.

The test walks what the admin offers, with no list of its own to keep in step:
- every named page of the admin and finance sites beyond a model's standard pages
  (`page:admin:registrar_registration_hosts`);
- every registration operation in `registrar.services.OPERATIONS` (`operation:lock`);
- every changelist action of a project model (`action:registrar.registration.bulk_lock`);
- a project model's add, change and delete pages where the admin allows them to a
  superuser and, for change, the form has a field one can edit
  (`model:billing.account:change`).
Each project command names the surfaces it mirrors in `admin_surfaces`. The test fails
when a surface has no command, when a command names a surface the admin does not have
(a typo, or a page since removed), and when an exemption is no longer needed. The only
surfaces exempt are those in EXEMPT, each with the reason no command can stand for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib import admin
from django.core.management import get_commands, load_command_class
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver

from registrar import services
from tests.factories import UserFactory

PROJECT_APPS = ("registrar", "contacts", "billing", "backoffice")
#: The back-office's own admin site; not the plain ones a benchmark registers beside it.
PROJECT_SITES = (admin.site,)
ADMIN_NAMESPACES = ("admin", "finance")
#: The pages Django's ModelAdmin makes for every model: walked as model:... surfaces.
STANDARD_PAGES = ("changelist", "add", "change", "delete", "history")

_SESSION = "a person's own session in the browser: a command has no session to hold it"
_OWN_FACTOR = ("a person's own second factor is enrolled in their own browser session; a "
               "command cannot enrol one for them")
EXEMPT: dict[str, str] = {
    "page:admin:index": "the dashboard: navigation, every figure it links has a command "
                        "that lists it (expiring, process list, approval list, order list)",
    "page:admin:app_list": "navigation",
    "page:admin:autocomplete": "a widget's lookup for a form field",
    "page:admin:jsi18n": "the admin's JavaScript translations",
    "page:admin:view_on_site": "a redirect to the public site",
    "page:admin:password_change": "one's own password: Django's `manage.py "
                                  "changepassword USER`",
    "page:admin:auth_user_password_change": "a staff member's password: Django's "
                                            "`manage.py changepassword USER`",
    "page:admin:login": _SESSION,
    "page:admin:logout": _SESSION,
    "page:admin:password_change_done": _SESSION,
    "page:admin:search": "navigation: every command takes the name, e-mail or reference "
                         "the search finds",
    "page:admin:security": _OWN_FACTOR,
    "page:admin:security_verify": _OWN_FACTOR,
    "page:admin:security_totp": _OWN_FACTOR,
    "page:admin:security_backup_codes": _OWN_FACTOR,
    "page:admin:registrar_registration_status": "the cockpit's in-place refresh of a "
                                                "process in flight; `process show` reads "
                                                "the same",
    "page:finance:revenue_chart": "an SVG of the totals `order list` and export_orders "
                                  "give as figures",
}


def _named(patterns, namespace: str = "") -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or ""
            prefix = f"{namespace}:{inner}" if namespace and inner else inner or namespace
            yield from _named(pattern.url_patterns, prefix)
        elif isinstance(pattern, URLPattern) and pattern.name and namespace:
            yield f"{namespace}:{pattern.name}"


def admin_pages() -> set[str]:
    standard = {f"{site.name}:{model._meta.app_label}_{model._meta.model_name}_{page}"
                for site in PROJECT_SITES for model in site._registry
                for page in STANDARD_PAGES}
    return {f"page:{name}" for name in _named(get_resolver().url_patterns)
            if name.partition(":")[0] in ADMIN_NAMESPACES and name not in standard}


def _superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = UserFactory(is_superuser=True, is_staff=True)
    return request


def model_surfaces(request) -> tuple[set[str], set[str]]:
    """(what the admin offers, every model surface a command may name)."""
    offered, possible = set(), set()
    for site in PROJECT_SITES:
        for model, model_admin in site._registry.items():
            if model._meta.app_label not in PROJECT_APPS:
                continue
            label = model._meta.label_lower
            possible.update(f"model:{label}:{verb}" for verb in ("add", "change", "delete"))
            for action in model_admin.get_actions(request):
                offered.add(f"action:{label}.{action}")
            if model_admin.has_add_permission(request):
                offered.add(f"model:{label}:add")
            if model_admin.has_delete_permission(request, None):
                offered.add(f"model:{label}:delete")
            if model_admin.has_change_permission(request, None):
                editable = [field for field in model_admin.get_fields(request, None)
                            if field not in model_admin.get_readonly_fields(request, None)]
                if editable:
                    offered.add(f"model:{label}:change")
    return offered, possible


def claimed() -> dict[str, list[str]]:
    """surface -> the commands naming it."""
    claims: dict[str, list[str]] = {}
    for name, app in get_commands().items():
        if app.split(".")[-1] not in PROJECT_APPS:
            continue
        command = load_command_class(app, name)
        for surface in getattr(command, "admin_surfaces", ()):
            claims.setdefault(surface, []).append(name)
    return claims


@pytest.fixture
def surfaces(db):
    offered, possible = model_surfaces(_superuser_request())
    operations = {f"operation:{key}" for key in services.OPERATIONS}
    return admin_pages() | operations | offered, possible


def test_every_admin_operation_has_a_command(surfaces):
    offered, _ = surfaces
    claims = claimed()
    missing = sorted(surface for surface in offered
                     if surface not in claims and surface not in EXEMPT)
    assert not missing, f"admin surfaces with no command: {missing}"


def test_commands_name_only_surfaces_the_admin_has(surfaces):
    offered, possible = surfaces
    unknown = {surface: commands for surface, commands in claimed().items()
               if surface not in offered | possible}
    assert not unknown, f"commands naming surfaces the admin does not have: {unknown}"


def test_every_exemption_is_still_a_surface_with_no_command(surfaces):
    offered, _ = surfaces
    stale = sorted(surface for surface in EXEMPT if surface not in offered)
    assert not stale, f"exemptions for surfaces the admin no longer has: {stale}"
    mirrored = sorted(surface for surface in EXEMPT if surface in claimed())
    assert not mirrored, f"exempt surfaces that now have a command: {mirrored}"


def test_the_walk_sees_what_the_admin_is_known_to_offer(surfaces):
    """The walk itself works: a sample of each kind of surface is found."""
    offered, _ = surfaces
    assert {"page:admin:registrar_registration_operation", "operation:lock",
            "action:registrar.registration.bulk_lock", "model:billing.account:add",
            "page:finance:orders_csv"} <= offered
