"""The back-office AdminSite.

Kept apart from backoffice/admin.py: `admin.site` is built lazily by importing this
class, and a module that both defines the site and registers models on it would
register them on a second, discarded instance.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import admin
from django.db.models import Count, Q
from django.urls import path, reverse
from django.utils import timezone

from backoffice.security import gate
from backoffice.security import views as security_views


class BackofficeAdminSite(admin.AdminSite):
    site_header = "Registrar back-office"
    site_title = "Registrar back-office"
    index_title = "Dashboard"
    enable_nav_sidebar = True

    def each_context(self, request):
        context = super().each_context(request)
        if gate.due_for(request):
            # Until the second factor is given, no menu of pages that would only send
            # the user back to the code page.
            context.update(available_apps=[], is_nav_sidebar_enabled=False)
        return context

    def get_urls(self):
        def page(view, **kwargs):
            return self.admin_view(lambda request, **kw: view(request, self, **kw), **kwargs)

        # Reached before a second factor is given too: backoffice/security/gate.py
        # lists which of these stay open while one is due.
        return [
            path("security/", page(security_views.overview), name="security"),
            path("security/verify/", page(security_views.verify), name="security_verify"),
            path("security/authenticator/", page(security_views.totp), name="security_totp"),
            path("security/backup-codes/", page(security_views.backup_codes),
                 name="security_backup_codes"),
            path("security/staff/", page(security_views.staff), name="security_staff"),
            path("security/staff/<int:user_id>/reset/", page(security_views.reset),
                 name="security_reset"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "dashboard": _dashboard(request)}
        return super().index(request, extra_context)


def _dashboard(request) -> list[dict]:
    """Figures that tell staff where to look first, each linking to its filtered list."""
    from registrar.models import Process, Registration

    cards = []
    if request.user.has_perm("registrar.view_registration"):
        soon = timezone.now() + timedelta(days=30)
        figures = Registration.objects.aggregate(
            in_flight=Count("pk", filter=Q(pending_async=True)),
            transfer_out=Count("pk", filter=Q(transfer_out_pending=True)),
            expiring=Count("pk", filter=Q(expires_at__lte=soon, expires_at__gte=timezone.now())),
            missing=Count("pk", filter=Q(missing_upstream_at__isnull=False)),
        )
        url = "/admin/registrar/registration/"
        cards += [
            {"label": "Processes in flight", "value": figures["in_flight"],
             "url": f"{url}?pending_async__exact=1"},
            {"label": "Outbound transfers awaiting a decision", "value": figures["transfer_out"],
             "url": f"{url}?transfer_out_pending__exact=1"},
            {"label": "Expiring within 30 days", "value": figures["expiring"],
             "url": f"{url}?expiring=30"},
            {"label": "No longer returned by the registrar", "value": figures["missing"],
             "url": f"{url}?missing=yes"},
        ]
    if request.user.has_perm("registrar.view_process"):
        cards.append({
            "label": "Stuck processes",
            "value": Process.objects.filter(stuck=True, is_terminal=False).count(),
            "url": "/admin/registrar/process/?stuck__exact=1",
        })
    if request.user.has_perm("registrar.approve_operation"):
        from registrar.approvals import pending_for

        cards.append({
            "label": "Requests waiting for your approval",
            "value": pending_for(request.user).count(),
            "url": reverse("admin:registrar_approval_changelist"),
        })
    if request.user.has_perm("billing.view_finance"):
        from billing.finance.attention import needing_attention

        cards.append({
            "label": "Orders needing attention",
            "value": needing_attention().count(),
            "url": reverse("finance:attention"),
        })
    return cards
