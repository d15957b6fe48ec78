"""Per-request staff session rules: the channel and step-up context for services and the
audit trail, the absolute session lifetime, and the second factor due before any page."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import timezone

from backoffice import assurance
from backoffice.security import gate

#: When the session's user logged in; the absolute lifetime counts from here.
LOGIN_AT_KEY = "backoffice_login_at"


@receiver(user_logged_in)
def _stamp_login(sender, request, user, **kwargs) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[LOGIN_AT_KEY] = timezone.now().isoformat()


def _login_at(request) -> datetime | None:
    try:
        return datetime.fromisoformat(request.session[LOGIN_AT_KEY])
    except (KeyError, TypeError, ValueError):
        return None


class StaffSessionMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            login_at = _login_at(request)
            limit = timedelta(seconds=settings.SESSION_ABSOLUTE_SECONDS)
            if login_at is None:
                # A session from before this rule (or forced in tests): start its clock.
                request.session[LOGIN_AT_KEY] = timezone.now().isoformat()
            elif timezone.now() - login_at > limit:
                logout(request)
        with assurance.acting(assurance.Channel.WEB, user=request.user,
                              second_factor_at=assurance.session_second_factor_at(request)):
            return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        # Here rather than in each view: the URL is resolved, so the rule knows which
        # page is asked for, and no view (admin, finance, one added later) is left out.
        return gate.check(request)
