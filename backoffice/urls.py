from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from billing import webhooks

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Passkey ceremonies, called by django-otp-webauthn's JavaScript on the security pages.
    path("admin/security/webauthn/", include("backoffice.security.webauthn")),
    path("admin/", admin.site.urls),
    path("finance/", include("billing.finance.urls")),
    path("webhooks/<slug:kind>/<slug:label>/", webhooks.receive, name="webhook"),
]

handler403 = "backoffice.errors.forbidden"
handler404 = "backoffice.errors.not_found"
