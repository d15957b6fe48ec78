"""The second-factor pages of the admin: the code page after the password, enrolment
(authenticator app, backup codes, passkeys), and the superuser's reset of someone else's."""

from __future__ import annotations

import base64

import segno
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.templatetags.otp_webauthn import get_configuration

from backoffice import assurance
from backoffice.security import devices, gate
from backoffice.security.forms import CodeForm, ResetForm, TotpConfirmForm


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ) and not candidate.startswith(reverse("admin:security_verify")):
        return candidate
    return reverse("admin:index")


def _render(request: HttpRequest, site, template: str, title: str, **context) -> HttpResponse:
    return TemplateResponse(request, template, {
        **site.each_context(request), "title": title, "next": _next_url(request), **context})


def _posted(request: HttpRequest):
    return request.POST if request.method == "POST" else None


def _passkey_config(request: HttpRequest) -> dict:
    # No passwordless login here: the passkey is the second step, after the password.
    return get_configuration(request, {"autocompleteLoginFieldSelector": None})


# --- the code page after the password -----------------------------------------------


def verify(request: HttpRequest, site) -> HttpResponse:
    user = request.user
    if not gate.second_factor_due(user):
        return HttpResponseRedirect(_next_url(request))
    if not assurance.user_has_second_factor(user):
        return redirect(gate.with_next(reverse("admin:security"), _next_url(request)))
    form = CodeForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        result = devices.second_factor_verify(request=request, token=form.cleaned_data["code"])
        if result.succeeded:
            return HttpResponseRedirect(_next_url(request))
        if result.throttled_until:
            wait = _seconds_until(result.throttled_until)
            form.add_error("code", "Code: too many wrong codes in a row. Wait "
                                   f"{wait} second{'' if wait == 1 else 's'}, then enter "
                                   "the current one.")
        else:
            form.add_error("code", "Code: this code is not right. Enter the code your "
                                   "authenticator app shows now, or an unused backup code.")
    has_passkey = WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()
    return _render(request, site, "security/verify.html", "Second factor", form=form,
                   has_passkey=has_passkey,
                   webauthn_config=_passkey_config(request) if has_passkey else None)


def _seconds_until(moment) -> int:
    return max(1, int((moment - timezone.now()).total_seconds()) + 1)


# --- enrolment -----------------------------------------------------------------------


def overview(request: HttpRequest, site) -> HttpResponse:
    user = request.user
    if not devices.may_enrol(request):
        return redirect(gate.with_next(reverse("admin:security_verify"), _next_url(request)))
    held = devices.confirmed_devices(user)
    kinds = {devices.kind_of(device) for device in held}
    return _render(
        request, site, "security/overview.html", "Second factor",
        totp_devices=[d for d in held if devices.kind_of(d) == devices.TOTP],
        passkeys=[d for d in held if devices.kind_of(d) == devices.PASSKEY],
        has_backup_codes=devices.BACKUP_CODES in kinds,
        backup_codes_left=devices.backup_codes_left(user),
        has_primary=bool(kinds & {devices.TOTP, devices.PASSKEY}),
        due=gate.second_factor_due(user),
        webauthn_config=_passkey_config(request),
    )


def totp(request: HttpRequest, site) -> HttpResponse:
    """POST action=start: a new key; GET: its QR code and key; POST a code: confirm."""
    user = request.user
    if not devices.may_enrol(request):
        return redirect(gate.with_next(reverse("admin:security_verify"), _next_url(request)))
    if request.method == "POST" and request.POST.get("action") == "start":
        devices.totp_start(user=user)
        return redirect(gate.with_next(reverse("admin:security_totp"), _next_url(request)))
    device = devices.pending_totp(user)
    if device is None:
        return redirect("admin:security")
    form = TotpConfirmForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        allowed, details = device.verify_is_allowed()
        if devices.totp_confirm(request=request, device=device, token=form.cleaned_data["code"]):
            messages.success(request, "Your authenticator app is set up. Now generate "
                                      "backup codes, in case you lose it.")
            return redirect(gate.with_next(reverse("admin:security"), _next_url(request)))
        if not allowed and (details or {}).get("locked_until"):
            wait = _seconds_until(details["locked_until"])
            form.add_error("code", "Code from the app: too many wrong codes in a row. Wait "
                                   f"{wait} second{'' if wait == 1 else 's'}, then enter "
                                   "the current one.")
        else:
            form.add_error("code", "Code from the app: this code is not right. Check that "
                                   "the app shows this account and enter its current code.")
    return _render(request, site, "security/totp.html", "Set up an authenticator app",
                   form=form, qr_svg=_qr_svg(device.config_url),
                   key_text=_grouped(base64.b32encode(device.bin_key).decode()))


def _qr_svg(url: str) -> str:
    # Drawn here as inline SVG: no image service, nothing leaves the server.
    return segno.make(url, error="m").svg_inline(scale=4, dark="#000", light="#fff",
                                                 title="QR code for your authenticator app")


def _grouped(key: str) -> str:
    return " ".join(key[i:i + 4] for i in range(0, len(key), 4))


@require_POST
def backup_codes(request: HttpRequest, site) -> HttpResponse:
    if not (gate.is_verified(request.user) and devices.has_primary_device(request.user)):
        messages.error(request, "Backup codes: set up an authenticator app or a passkey "
                                "first, and sign in with it.")
        return redirect("admin:security")
    codes = devices.backup_codes_generate(user=request.user)
    return _render(request, site, "security/backup_codes.html", "Your backup codes",
                   codes=codes)


# --- reset by a superuser --------------------------------------------------------------


def _superuser_only(request: HttpRequest) -> None:
    if not request.user.is_superuser:
        raise PermissionDenied("Only a superuser can reset someone's second factor.")


def staff(request: HttpRequest, site) -> HttpResponse:
    _superuser_only(request)
    confirmed = Q(user=OuterRef("pk"), confirmed=True)
    people = (get_user_model().objects.filter(is_staff=True)
              .annotate(has_totp=Exists(TOTPDevice.objects.filter(confirmed)),
                        has_codes=Exists(StaticDevice.objects.filter(confirmed)),
                        has_passkey=Exists(WebAuthnCredential.objects.filter(confirmed)))
              .order_by("username"))
    return _render(request, site, "security/staff.html", "Staff second factors",
                   people=people)


def reset(request: HttpRequest, site, user_id: int) -> HttpResponse:
    _superuser_only(request)
    person = get_object_or_404(get_user_model(), pk=user_id)
    held = [devices.KIND_LABELS.get(devices.kind_of(d), devices.kind_of(d))
            for d in devices.confirmed_devices(person)]
    form = ResetForm(_posted(request))
    step_up = not assurance.second_factor_fresh(request.user)
    if request.method == "POST" and form.is_valid():
        if step_up and not assurance.confirm_second_factor(
                request.user, form.cleaned_data["code"], request=request):
            form.add_error("code", "Your code: enter a current code from your own "
                                   "authenticator app (or a backup code) to confirm.")
        else:
            devices.second_factor_reset(actor=request.user, user=person)
            messages.success(request, f"The second factor of {person.get_username()} is "
                                      "reset: they set up a new one at their next login.")
            return redirect("admin:security_staff")
    return _render(request, site, "security/reset.html", "Reset a second factor",
                   person=person, held=held, form=form, step_up=step_up)
