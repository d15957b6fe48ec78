"""Read-only admin pages that read an upstream live, beside the mirror, so staff can
compare the two. Each is a GET that changes nothing here (no row, no audit row): an
upstream failure is a message on the page, a malformed or unknown id a 404."""

from __future__ import annotations

from typing import Any

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from backoffice.ids import parse_pk
from registrar import selectors, services
from registrar.models import Process, ProviderAccount
from registrar.operations import OperationRefused
from registrar.providers.errors import ConfigurationError, ProviderError

#: How many of the upstream's registrations the account page shows (its first page).
UPSTREAM_LIMIT = 25


def _failure(error: ProviderError | OperationRefused) -> str:
    """What staff read when the registrar could not be read: nothing was changed here."""
    if isinstance(error, OperationRefused | ConfigurationError):
        return error.message  # refused on our side: the message says nothing was sent
    code = f" (registrar code: {error.code})" if getattr(error, "code", "") else ""
    return (f"The registrar could not be read now: {error.message.rstrip('.')}{code}. "
            "Nothing was changed here.")


def _page(model_admin, request, template: str, original: Any, change_url: str,
          **context) -> TemplateResponse:
    return TemplateResponse(request, template, {
        **model_admin.admin_site.each_context(request), "opts": model_admin.model._meta,
        "original": original, "change_url": change_url, **context})


def provider_account_upstream_view(model_admin, request, object_id):
    """The first registrations the account's upstream lists, each marked mirrored or not."""
    user = request.user
    if not (user.has_perm("registrar.view_provideraccount")
            and user.has_perm("registrar.view_registration")):
        raise PermissionDenied
    pk = parse_pk(unquote(object_id))
    if pk is None:
        raise Http404("No such provider account.")
    account = get_object_or_404(ProviderAccount, pk=pk)
    rows, error = [], ""
    try:
        listed = selectors.provider_account_registrations_live(account, limit=UPSTREAM_LIMIT)
    except (ProviderError, OperationRefused) as failure:
        error = _failure(failure)
    else:
        rows = [{"name": record.name, "upstream_id": record.fields.get("upstream_id", ""),
                 "status": record.fields.get("status", ""),
                 "expires_at": record.fields.get("expires_at"),
                 "registration": registration,
                 "url": (reverse("admin:registrar_registration_change",
                                 args=[registration.pk]) if registration else None)}
                for record, registration in listed]
    return _page(model_admin, request, "admin/registrar/provideraccount/upstream.html",
                 account, reverse("admin:registrar_provideraccount_change", args=[account.pk]),
                 title=f"At the registrar: {account}", account=account, rows=rows,
                 error=error, limit=UPSTREAM_LIMIT,
                 mirrored=sum(1 for row in rows if row["registration"]))


def registration_hosts_remote_view(model_admin, request, object_id):
    """The registration's glue hosts as the registrar lists them, beside the mirror's."""
    if not (request.user.has_perm("registrar.view_host")
            and request.user.has_perm("registrar.view_registration")):
        raise PermissionDenied
    registration = model_admin._get_or_404(request, object_id)
    hosts_url = reverse("admin:registrar_registration_hosts", args=[registration.pk])
    rows, error = [], ""
    try:
        live = selectors.registration_hosts_live(registration)
    except ProviderError as failure:
        error = _failure(failure)
        rows = selectors.registration_hosts_compared(registration, [])
    else:
        rows = selectors.registration_hosts_compared(registration, live)
    return _page(model_admin, request, "admin/registrar/registration/hosts_remote.html",
                 registration,
                 reverse("admin:registrar_registration_change", args=[registration.pk]),
                 title=f"Glue hosts at the registrar: {registration}",
                 registration=registration, hosts_url=hosts_url, rows=rows, error=error,
                 differences=sum(1 for row in rows if row["differs"]))


def process_remote_view(model_admin, request, object_id):
    """One process and its log as the registrar has them, beside the mirror row."""
    if not request.user.has_perm(services.PROCESS_VIEW_PERMISSION):
        raise PermissionDenied
    pk = parse_pk(unquote(object_id))
    if pk is None:
        raise Http404("No such process.")
    process = get_object_or_404(Process.objects.select_related("registration"), pk=pk)
    view, error = None, ""
    try:
        view = services.process_read_remote(process=process, actor=request.user)
    except (ProviderError, OperationRefused) as failure:
        error = _failure(failure)
    log = [{"logged_at": entry.logged_at, "message": entry.message}
           for entry in process.log_entries.order_by("logged_at", "pk")]
    remote_log = [{"logged_at": entry.get("date") or entry.get("logged_at") or "",
                   "message": entry.get("message", "")} for entry in view.log] if view else []
    return _page(model_admin, request, "admin/registrar/process/remote.html", process,
                 reverse("admin:registrar_process_change", args=[process.pk]),
                 title=f"Process {process.upstream_id} at the registrar", process=process,
                 view=view, error=error, log=log, remote_log=remote_log,
                 status_differs=bool(view and view.process.status != process.status),
                 action_differs=bool(view and view.process.action
                                     and view.process.action != process.action))


def registration_remote_view(model_admin, request, object_id):
    """The registration as the registrar has it now, beside the mirror (the same
    comparison as `manage.py registration show NAME --remote`)."""
    if not request.user.has_perm("registrar.view_registration"):
        raise PermissionDenied
    registration = model_admin._get_or_404(request, object_id)
    rows, problem = selectors.registration_compared(registration)
    error = ("" if not problem else
             f"The registrar could not be read now: {problem.rstrip('.')}. Nothing was "
             "changed here.")
    return _page(model_admin, request, "admin/registrar/registration/remote.html",
                 registration,
                 reverse("admin:registrar_registration_change", args=[registration.pk]),
                 title=f"{registration} at the registrar", registration=registration,
                 rows=rows, error=error, differences=sum(1 for row in rows if row["differs"]))
