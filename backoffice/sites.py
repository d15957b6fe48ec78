"""The back-office AdminSite.

Kept apart from backoffice/admin.py: `admin.site` is built lazily by importing this
class, and a module that both defines the site and registers models on it would
register them on a second, discarded instance.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from backoffice import cockpit, domain_search_page, search
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
            path("search/", self.admin_view(self.search_view), name="search"),
            path("domain-search/", page(domain_search_page.domain_search_view),
                 name="domain_search"),
            *super().get_urls(),
        ]

    def search_view(self, request):
        """The header's search box: one hit opens it, several are listed by kind."""
        query = request.GET.get("q", "")
        try:
            groups = search.search(query, request.user)
        except search.QueryRefused as refusal:
            messages.error(request, str(refusal))
            groups, query = {}, ""
        hits = [hit for group in groups.values() for hit in group]
        if len(hits) == 1:
            return HttpResponseRedirect(hits[0].url)
        return TemplateResponse(request, "admin/backoffice/search.html", {
            **self.each_context(request), "title": "Search", "query": query.strip(),
            "groups": groups})

    def index(self, request, extra_context=None):
        deadlines = cockpit.sections(request.user)
        cards = _dashboard(request, deadlines)
        extra_context = {**(extra_context or {}), "deadlines": deadlines, "dashboard": cards,
                         "other_figures": cards[len(deadlines):],
                         "recent_actions": cockpit.recent_actions(request.user)}
        return super().index(request, extra_context)


def _dashboard(request, deadlines: list[cockpit.Section]) -> list[dict]:
    """Figures that tell staff where to look first, each linking to its filtered list:
    the deadline sections' counts, and what has no deadline but wants a look."""
    from registrar.models import Registration

    cards = [{"label": section.label, "value": _figure(section.count), "url": section.url}
             for section in deadlines]
    if request.user.has_perm("registrar.view_registration"):
        # Each count on its partial index (registration_in_flight,
        # registration_missing_upstream), capped: never an aggregate over every row.
        in_flight = cockpit.capped_count(Registration.objects.filter(pending_async=True))
        missing = cockpit.capped_count(
            Registration.objects.filter(missing_upstream_at__isnull=False))
        url = reverse("admin:registrar_registration_changelist")
        cards += [
            {"label": "Processes in flight", "value": _figure(in_flight),
             "url": f"{url}?pending_async__exact=1"},
            {"label": "No longer returned by the registrar", "value": _figure(missing),
             "url": f"{url}?missing=yes"},
        ]
    return cards


def _figure(count: int) -> int | str:
    """The count itself, or "999+" past the cap."""
    return count if count <= cockpit.COUNT_CAP else cockpit.count_label(count)
