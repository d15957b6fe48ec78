"""Second-factor devices: enrolment, verification at login, and reset by a superuser.

Every change to who holds which device writes one audit row, with the kind of device
and never its secret (a TOTP key, a backup code).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from backoffice import assurance, audit

TOTP = "totp"
BACKUP_CODES = "backup_codes"
PASSKEY = "passkey"

KIND_LABELS = {TOTP: "Authenticator app", BACKUP_CODES: "Backup codes", PASSKEY: "Passkey"}
#: How many backup codes one set holds; each works once.
BACKUP_CODE_COUNT = 10

TOTP_NAME = "Authenticator app"
BACKUP_CODES_NAME = "Backup codes"


def kind_of(device: Device) -> str:
    if isinstance(device, TOTPDevice):
        return TOTP
    if isinstance(device, StaticDevice):
        return BACKUP_CODES
    if isinstance(device, WebAuthnCredential):
        return PASSKEY
    return type(device).__name__.lower()


def confirmed_devices(user: AbstractBaseUser) -> list[Device]:
    return list(devices_for_user(user, confirmed=True))


def has_primary_device(user: AbstractBaseUser) -> bool:
    """An authenticator app or a passkey: backup codes are only a fallback for one."""
    return any(kind_of(device) in {TOTP, PASSKEY} for device in confirmed_devices(user))


def may_enrol(request: HttpRequest) -> bool:
    """Someone who already holds a device proves it before adding another: a password
    alone must not be enough to give oneself a new second factor."""
    user = request.user
    return bool(user.is_authenticated
                and (_is_verified(user) or not confirmed_devices(user)))


def _is_verified(user) -> bool:
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


def mark_verified(request: HttpRequest, device: Device) -> None:
    """This session passed a second factor with `device`, just now."""
    # A new session key for the raised privilege, as at login.
    request.session.cycle_key()
    otp_login(request, device)
    assurance.note_second_factor(request.user, request=request)


# --- verification at login --------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    device: Device | None
    #: Set when the code was refused because of too many wrong codes in a row.
    throttled_until: datetime | None = None

    @property
    def succeeded(self) -> bool:
        return self.device is not None


def second_factor_verify(*, request: HttpRequest, token: str) -> Verification:
    """Check a code (authenticator app or backup code) for the session's user; on
    success the session is verified. A backup code is used up. After a wrong code each
    device makes the next try wait (1, 2, 4... seconds); a code refused for that reason
    says until when."""
    user = request.user
    throttled_until = _throttled_until(user)
    device = assurance.match_token(user, token)
    if device is not None:
        mark_verified(request, device)
        return Verification(device=device)
    return Verification(device=None, throttled_until=throttled_until)


def _throttled_until(user) -> datetime | None:
    """When every device accepts a code again, if none does now."""
    until = None
    for device in devices_for_user(user, confirmed=True):
        if kind_of(device) == PASSKEY:
            continue  # no codes: a passkey is checked by its own ceremony
        allowed, details = device.verify_is_allowed()
        if allowed:
            return None
        if details and details.get("locked_until"):
            until = max(until, details["locked_until"]) if until else details["locked_until"]
    return until


# --- enrolment ----------------------------------------------------------------------


def totp_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """A new, unconfirmed authenticator-app device with a fresh key. It counts only once
    `totp_confirm` has seen a code from it; an earlier unfinished one is dropped."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def pending_totp(user: AbstractBaseUser) -> TOTPDevice | None:
    return (TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first())


def totp_confirm(*, request: HttpRequest, device: TOTPDevice, token: str) -> bool:
    """Confirm a new authenticator app with a code it shows. It replaces the user's
    previous app, and the session counts as verified: the user just proved they hold it."""
    user = request.user
    token = (token or "").strip().replace(" ", "")
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user,
                                                            confirmed=False)
        if not token.isdigit() or not device.verify_token(token):
            return False
        replaced, _ = (TOTPDevice.objects.filter(user=user, confirmed=True)
                       .exclude(pk=device.pk).delete())
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        audit.record(actor=user, action="security.second_factor_enrolled", target=user,
                     parameters={"kind": TOTP, "replaced": replaced}, outcome="succeeded")
    mark_verified(request, device)
    return True


def backup_codes_generate(*, user: AbstractBaseUser) -> list[str]:
    """A new set of backup codes, replacing any earlier set. Returned once, to be shown
    once: only the codes still unused are kept, and nothing shows them again."""
    with transaction.atomic():
        device, _ = StaticDevice.objects.get_or_create(
            user=user, name=BACKUP_CODES_NAME, defaults={"confirmed": True})
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code)
                                        for code in codes)
        audit.record(actor=user, action="security.second_factor_enrolled", target=user,
                     parameters={"kind": BACKUP_CODES, "count": len(codes)},
                     outcome="succeeded")
    return codes


def backup_codes_left(user: AbstractBaseUser) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def passkey_enrolled(*, request: HttpRequest, verified_by_it: bool) -> None:
    """A passkey the user just registered (the WebAuthn ceremony saved it). When it was
    their first device the ceremony also verified the session with it: that counts as a
    fresh second factor."""
    user = request.user
    audit.record(actor=user, action="security.second_factor_enrolled", target=user,
                 parameters={"kind": PASSKEY}, outcome="succeeded")
    if verified_by_it:
        assurance.note_second_factor(user, request=request)


# --- reset -------------------------------------------------------------------------


def second_factor_reset(*, actor: AbstractBaseUser, user: AbstractBaseUser) -> list[str]:
    """Delete every second-factor device of `user` (a lost phone): at their next login
    they set one up again. Their sessions verified with a deleted device stop counting
    as verified. Returns the kinds removed."""
    with transaction.atomic():
        removed = []
        for device in list(devices_for_user(user, confirmed=None)):
            removed.append(kind_of(device))
            device.delete()
        audit.record(actor=actor, action="security.second_factor_reset", target=user,
                     parameters={"kinds": sorted(set(removed)), "devices": len(removed)},
                     outcome="succeeded")
    return removed
