"""Who may reach what before giving a second factor.

One rule for the whole back-office (the admin, the finance area, anything added later):
while a second factor is due, a signed-in user reaches only the pages that let them give
one, set one up, or log out. `StaffSessionMiddleware` applies it to every view.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from backoffice import assurance

#: (namespace, url name) of the views open while a second factor is due.
OPEN_WHILE_PENDING = {
    ("admin", "logout"),
    ("admin", "security_verify"),
    ("admin", "security"),
    ("admin", "security_totp"),
}
#: The passkey ceremonies (verify, register) and their translations.
OPEN_NAMESPACES = {"otp_webauthn"}


def is_verified(user) -> bool:
    """Whether this session passed a second factor (django_otp's OTPMiddleware)."""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def second_factor_due(user) -> bool:
    """Signed in, not verified in this session, and a second factor applies: always
    when STAFF_MFA_REQUIRED is on, and (in the demo) to anyone who set one up."""
    return bool(user is not None and user.is_authenticated and not is_verified(user)
                and assurance.second_factor_enforced(user))


def due_for(request: HttpRequest) -> bool:
    """`second_factor_due` for the request's user, worked out once per request."""
    if not hasattr(request, "_second_factor_due"):
        request._second_factor_due = second_factor_due(getattr(request, "user", None))
    return request._second_factor_due


def is_open_while_pending(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    if match is None:
        return False
    return (match.namespace in OPEN_NAMESPACES
            or (match.namespace, match.url_name) in OPEN_WHILE_PENDING)


def redirect_to_second_factor(request: HttpRequest) -> HttpResponseRedirect:
    """To the code page, or to enrolment for someone with no device yet; back here after."""
    name = ("admin:security_verify" if assurance.user_has_second_factor(request.user)
            else "admin:security")
    target = request.get_full_path() if request.method == "GET" else reverse("admin:index")
    return HttpResponseRedirect(with_next(reverse(name), target))


def with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}"


def check(request: HttpRequest) -> HttpResponseRedirect | None:
    """None to let the request through, else where to go first."""
    if is_open_while_pending(request) or not due_for(request):
        return None
    return redirect_to_second_factor(request)
