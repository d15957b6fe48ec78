"""Connect a registration to its upstream's edge (DOMAIN_CONNECT): one page off the
registration, like the operation pages: the reason it cannot be done, or a confirmation
form on GET; the service on POST; a message saying what happened; a redirect."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from registrar import connections, forms
from registrar.models import Registration
from registrar.operations import OperationRefused
from registrar.providers.base import Capability


def connect_unavailable_reason(registration: Registration) -> str | None:
    """Why the registration cannot be connected here, or None."""
    account = registration.served_by
    if account is None:
        return "No upstream serves this registration's TLD."
    if not account.enabled:
        return f"The provider account “{account.label}” is disabled."
    if not account.supports(Capability.DOMAIN_CONNECT):
        return (f"{account.get_kind_display()} (“{account.label}”) cannot connect "
                "domains to an edge.")
    return None


def connect_url(registration: Registration, user) -> str:
    """The page's link for the change page: only where it can be used."""
    if not user.has_perm(connections.CONNECT_PERMISSION) or connect_unavailable_reason(
            registration):
        return ""
    return reverse("admin:registrar_registration_connect", args=[registration.pk])


def connect_view(model_admin, request: HttpRequest, object_id: str) -> HttpResponse:
    if not request.user.has_perm(connections.CONNECT_PERMISSION):
        raise PermissionDenied
    registration = model_admin._get_or_404(request, object_id)
    back = reverse("admin:registrar_registration_change", args=[registration.pk])
    reason = connect_unavailable_reason(registration)
    form = forms.ConfirmForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and reason is None and form.is_valid():
        try:
            outcome = connections.domain_connect(provider_account=registration.served_by,
                                                 domain=registration.name,
                                                 actor=request.user)
        except OperationRefused as refusal:
            form.add_error(None, refusal.message)
        else:
            from registrar.admin_operations import show_outcome

            show_outcome(request, outcome)
            return HttpResponseRedirect(back)
    account = registration.served_by
    return TemplateResponse(request, "admin/registrar/registration/connect.html", {
        **model_admin.admin_site.each_context(request),
        "title": f"Connect to the edge: {registration}",
        "form": form, "registration": registration, "original": registration,
        "opts": model_admin.model._meta, "change_url": back, "reason": reason,
        "upstream": account.get_kind_display() if account is not None else "",
        "account": account,
    }, status=400 if form.is_bound and form.errors else 200)
