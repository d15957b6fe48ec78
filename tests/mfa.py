"""Second-factor helpers for tests: a user's authenticator app, its current code, and a
client session that counts as verified (for step-up and login-security tests)."""

from __future__ import annotations

import time

from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice import assurance


def enrol_totp(user) -> TOTPDevice:
    """A confirmed authenticator app for `user`."""
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=True)


def totp_code(device: TOTPDevice, *, at: float | None = None) -> str:
    """The code the user's app shows now (or at the Unix time `at`)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() if at is None else at
    return f"{totp.token():0{device.digits}d}"


def login_verified(client, user, device=None):
    """Log `client` in as `user` with a session verified by `device` (an authenticator
    app is set up when none is given), its second factor given just now. Returns the
    device."""
    device = device or TOTPDevice.objects.filter(user=user, confirmed=True).first() \
        or enrol_totp(user)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    # What note_second_factor stamps on a session (written here directly, so that this
    # test's own acting context is left as it was).
    session[assurance.SESSION_KEY] = timezone.now().isoformat()
    session.save()
    return device
