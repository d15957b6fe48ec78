"""Passkeys (django-otp-webauthn): its four ceremony views and its translations, under
the namespace its templates and JavaScript expect (`otp_webauthn`). Two are extended:
a passkey that verifies the login counts as a fresh second factor, and registering one
is audited."""

from __future__ import annotations

import json

from django.urls import path, reverse
from django.views.i18n import JavaScriptCatalog
from django_otp_webauthn import views as webauthn_views

from backoffice import assurance
from backoffice.security import devices


class PasskeyRegistrationComplete(webauthn_views.CompleteCredentialRegistrationView):
    def post(self, *args, **kwargs):
        verified_before = self.request.user.is_verified()
        response = super().post(*args, **kwargs)
        # Errors never reach here: the base view turns them into JSON error responses.
        if response.status_code == 200 and json.loads(response.content).get("id"):
            devices.passkey_enrolled(request=self.request,
                                     verified_by_it=not verified_before)
        return response


class PasskeyVerificationComplete(webauthn_views.CompleteCredentialAuthenticationView):
    def complete_auth(self, device) -> None:
        super().complete_auth(device)
        assurance.note_second_factor(self.request.user, request=self.request)

    def get_success_url(self) -> str:
        return self.get_redirect_url() or reverse("admin:index")


app_name = "otp_webauthn"

urlpatterns = [
    path("registration/begin/", webauthn_views.BeginCredentialRegistrationView.as_view(),
         name="credential-registration-begin"),
    path("registration/complete/", PasskeyRegistrationComplete.as_view(),
         name="credential-registration-complete"),
    path("authentication/begin/", webauthn_views.BeginCredentialAuthenticationView.as_view(),
         name="credential-authentication-begin"),
    path("authentication/complete/", PasskeyVerificationComplete.as_view(),
         name="credential-authentication-complete"),
    path("jsi18n/", JavaScriptCatalog.as_view(packages=["django_otp_webauthn"]),
         name="js-i18n-catalog"),
]
