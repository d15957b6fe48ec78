"""Deploy checks (`manage.py check --deploy`): settings that must not reach production."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_staff_security(app_configs=None, **kwargs) -> list[Warning]:
    if settings.DEBUG:
        return []
    warnings = []
    if not settings.STAFF_MFA_REQUIRED:
        warnings.append(Warning(
            "STAFF_MFA_REQUIRED is off with DEBUG off: staff log in with a password alone.",
            hint="Unset STAFF_MFA_REQUIRED (it defaults to on when DEBUG is off) or set "
                 "STAFF_MFA_REQUIRED=1.",
            id="backoffice.W001"))
    if settings.SANDBOX_ENABLED:
        warnings.append(Warning(
            "SANDBOX_ENABLED is on with DEBUG off: the built-in fake upstream can be "
            "configured as a provider.",
            hint="Set SANDBOX_ENABLED=0; the sandbox is for development and tests only.",
            id="backoffice.W002"))
    if not settings.TWO_PERSON_OPERATIONS:
        warnings.append(Warning(
            "TWO_PERSON_OPERATIONS is empty with DEBUG off: high-risk operations need no "
            "second person's approval.",
            hint="Unset TWO_PERSON_OPERATIONS to use the default list of operations.",
            id="backoffice.W003"))
    warnings += _passkey_origins()
    warnings += _customer_mail()
    return warnings


#: Backends that take a message and deliver it to no one.
_UNDELIVERED_BACKENDS = {
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
}
#: The settings customers read in every notice, which default to placeholders.
_NOTICE_ADDRESSES = ("DEFAULT_FROM_EMAIL", "NOTICE_RENEW_URL", "NOTICE_SUPPORT_EMAIL")


def _customer_mail() -> list[Warning]:
    """Renewal notices are a registrar's duty: in production they must reach customers,
    from the registrar's own address, pointing at its own renewal page."""
    found = []
    if settings.EMAIL_BACKEND in _UNDELIVERED_BACKENDS:
        found.append(Warning(
            f"EMAIL_BACKEND is {settings.EMAIL_BACKEND} with DEBUG off: renewal notices "
            "would be recorded as sent and reach no customer.",
            hint="Set EMAIL_URL (smtp+tls://user:password@host:587) or EMAIL_HOST and its "
                 "friends for the SMTP backend.",
            id="backoffice.W005"))
    placeholders = [name for name in _NOTICE_ADDRESSES
                    if "example.com" in str(getattr(settings, name, ""))]
    if placeholders:
        found.append(Warning(
            f"{', '.join(placeholders)} still hold the example.com placeholders: customers' "
            "renewal notices would come from, and point to, an address that is not yours.",
            hint="Set them in the environment: DEFAULT_FROM_EMAIL=\"Registrar "
                 "<renewals@yours>\", NOTICE_RENEW_URL=https://yours/domains/{domain}/renew, "
                 "NOTICE_SUPPORT_EMAIL=support@yours.",
            id="backoffice.W006"))
    return found


def _passkey_origins() -> list[Warning]:
    """Passkeys only work from an origin on the relying party's host name (or under it),
    and never from a development address in production."""
    rp_id = settings.OTP_WEBAUTHN_RP_ID
    wrong = []
    for origin in settings.OTP_WEBAUTHN_ALLOWED_ORIGINS:
        host = urlsplit(origin).hostname or ""
        if host in {"localhost", "127.0.0.1"} or not (host == rp_id
                                                      or host.endswith(f".{rp_id}")):
            wrong.append(origin)
    if not wrong:
        return []
    return [Warning(
        f"OTP_WEBAUTHN_ALLOWED_ORIGINS holds {', '.join(wrong)}, not an https address on "
        f"OTP_WEBAUTHN_RP_ID ({rp_id}): passkeys would not work there.",
        hint="Set ALLOWED_HOSTS to the back-office's host name, or OTP_WEBAUTHN_RP_ID and "
             "OTP_WEBAUTHN_ALLOWED_ORIGINS (https://<that host>) explicitly.",
        id="backoffice.W004")]
