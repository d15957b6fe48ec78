"""Staff login with a second factor, enrolment and reset, lockout, the demo banner, and
the session's lifetime: through the real login pages, with what is left in the
database and the session afterwards."""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from backoffice import assurance
from backoffice.middleware import LOGIN_AT_KEY
from backoffice.models import StaffAction
from backoffice.roles import ADMIN
from tests.factories import UserFactory
from tests.mfa import enrol_totp, login_verified, totp_code

PASSWORD = "correct-horse-battery"
VERIFY = "/admin/security/verify/"
BANNER = "Two-factor login is off: this is a demo set-up."


@pytest.fixture
def mfa_on(settings):
    settings.STAFF_MFA_REQUIRED = True
    return settings


def password_login(client, username, password=PASSWORD, next_url=None):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/admin/login/", data)


def follow_target(response) -> str:
    assert response.status_code == 302, response.status_code
    return response["Location"]


# --- a password alone is not enough ------------------------------------------------


@pytest.mark.django_db
def test_password_only_login_reaches_neither_the_admin_nor_finance(client, mfa_on,
                                                                    finance_user):
    enrol_totp(finance_user)
    response = password_login(client, finance_user.username)
    assert follow_target(response) == "/admin/"
    # Signed in (step one), but every page sends them to the code page first.
    for url in ["/admin/", "/finance/", "/finance/attention/", "/admin/billing/order/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{VERIFY}?next="), url
    page = client.get(f"{VERIFY}?next=/finance/")
    assert page.status_code == 200
    assert b"Step two of two" in page.content
    # No menu of pages they cannot reach yet.
    assert b"nav-sidebar" not in page.content


@pytest.mark.django_db
def test_a_user_with_no_device_is_sent_to_enrolment(client, mfa_on, support_user):
    password_login(client, support_user.username)
    response = client.get("/admin/registrar/registration/")
    assert follow_target(response).startswith("/admin/security/?next=")
    page = client.get(follow_target(response))
    assert page.status_code == 200
    assert b"needs a second factor" in page.content
    # Enrolment's QR code page is open; the admin is not.
    client.post("/admin/security/authenticator/", {"action": "start"})
    assert client.get("/admin/security/authenticator/").status_code == 200
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_the_right_totp_code_gets_in_and_goes_where_asked(client, mfa_on, finance_user):
    device = enrol_totp(finance_user)
    password_login(client, finance_user.username)
    response = client.post(VERIFY, {"code": totp_code(device), "next": "/finance/"})
    assert follow_target(response) == "/finance/"
    assert client.get("/finance/").status_code == 200
    assert client.get("/admin/").status_code == 200
    # The session counts as freshly verified for step-up.
    stamped = assurance.session_second_factor_at(_session_of(client))
    assert stamped is not None and timezone.now() - stamped < timedelta(seconds=30)


@pytest.mark.django_db
def test_a_wrong_code_does_not_get_in(client, mfa_on, finance_user):
    device = enrol_totp(finance_user)
    right = totp_code(device)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    password_login(client, finance_user.username)
    response = client.post(VERIFY, {"code": wrong})
    assert response.status_code == 200
    assert b"Code: this code is not right." in response.content
    assert client.get("/admin/").status_code == 302
    # Straight after a wrong code the device asks for a pause, and says so.
    response = client.post(VERIFY, {"code": right})
    assert b"too many wrong codes in a row" in response.content
    assert client.get("/finance/").status_code == 302


@pytest.mark.django_db
def test_a_totp_code_works_only_once(client, mfa_on, finance_user):
    device = enrol_totp(finance_user)
    code = totp_code(device)
    password_login(client, finance_user.username)
    assert follow_target(client.post(VERIFY, {"code": code})) == "/admin/"
    other = client.__class__()
    password_login(other, finance_user.username)
    response = other.post(VERIFY, {"code": code})
    assert response.status_code == 200
    assert other.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_a_backup_code_works_once(client, mfa_on, support_user):
    device = enrol_totp(support_user)
    login_verified(client, support_user, device)
    page = client.post("/admin/security/backup-codes/")
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]  # shown once, kept by no cache
    codes = page.context["codes"]
    assert len(codes) == 10
    assert all(code.encode() in page.content for code in codes)
    client.post("/admin/logout/")

    password_login(client, support_user.username)
    assert follow_target(client.post(VERIFY, {"code": codes[0]})) == "/admin/"
    assert client.get("/admin/").status_code == 200
    client.post("/admin/logout/")

    password_login(client, support_user.username)
    # The same code again: refused, it was used up.
    response = client.post(VERIFY, {"code": codes[0]})
    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302
    assert StaticDevice.objects.get(user=support_user).token_set.count() == 9


# --- enrolment ---------------------------------------------------------------------


@pytest.mark.django_db
def test_setting_up_an_authenticator_app_is_confirmed_by_a_code_and_audited(
        client, mfa_on, support_user):
    password_login(client, support_user.username)
    client.post("/admin/security/authenticator/", {"action": "start"})
    page = client.get("/admin/security/authenticator/")
    assert page.status_code == 200
    assert b"<svg" in page.content  # the QR code, drawn on the server
    pending = TOTPDevice.objects.get(user=support_user, confirmed=False)
    key = page.context["key_text"]
    assert key.encode() in page.content  # the key as text too, for typing it in
    # Not a device until confirmed: the admin is still closed.
    assert client.get("/admin/").status_code == 302

    wrong = client.post("/admin/security/authenticator/", {"code": "000000"
                        if totp_code(pending) != "000000" else "111111"})
    assert b"this code is not right" in wrong.content
    assert not StaffAction.objects.filter(action="security.second_factor_enrolled").exists()

    time.sleep(1.1)  # past the pause a wrong code asks for
    response = client.post("/admin/security/authenticator/", {"code": totp_code(pending)})
    assert follow_target(response).startswith("/admin/security/")
    assert TOTPDevice.objects.get(pk=pending.pk).confirmed
    # Confirming the app verified this session.
    assert client.get("/admin/").status_code == 200
    row = StaffAction.objects.get(action="security.second_factor_enrolled")
    assert (row.actor, row.target_id, row.outcome) == (support_user, str(support_user.pk),
                                                        "succeeded")
    assert row.parameters["kind"] == "totp"
    assert pending.key not in str(row.parameters)


@pytest.mark.django_db
def test_backup_codes_are_audited_without_the_codes(client, mfa_on, support_user):
    login_verified(client, support_user)
    codes = client.post("/admin/security/backup-codes/").context["codes"]
    row = StaffAction.objects.get(action="security.second_factor_enrolled")
    assert row.parameters == {"kind": "backup_codes", "count": 10}
    assert not any(code in str(row.parameters) for code in codes)


@pytest.mark.django_db
def test_someone_holding_a_device_cannot_add_another_with_a_password_alone(
        client, mfa_on, support_user):
    enrol_totp(support_user)
    password_login(client, support_user.username)
    response = client.post("/admin/security/authenticator/", {"action": "start"})
    assert follow_target(response).startswith(VERIFY)
    assert not TOTPDevice.objects.filter(user=support_user, confirmed=False).exists()
    assert follow_target(client.post("/admin/security/backup-codes/")).startswith("/admin/")
    assert not StaticDevice.objects.filter(user=support_user).exists()


# --- reset by a superuser ------------------------------------------------------------


@pytest.mark.django_db
def test_a_superuser_resets_someones_second_factor_and_it_is_audited(client, mfa_on,
                                                                     support_user):
    boss = UserFactory(username="boss", is_superuser=True)
    login_verified(client, boss)
    device = enrol_totp(support_user)
    StaticDevice.objects.create(user=support_user, name="Backup codes")

    listing = client.get("/admin/security/staff/")
    assert listing.status_code == 200
    reset_url = reverse("admin:security_reset", args=[support_user.pk])
    assert reset_url.encode() in listing.content
    assert client.get(reset_url).status_code == 200
    response = client.post(reset_url)
    assert follow_target(response) == "/admin/security/staff/"

    assert not TOTPDevice.objects.filter(user=support_user).exists()
    assert not StaticDevice.objects.filter(user=support_user).exists()
    row = StaffAction.objects.get(action="security.second_factor_reset")
    assert (row.actor, row.target_id, row.outcome) == (boss, str(support_user.pk),
                                                        "succeeded")
    assert row.parameters == {"kinds": ["backup_codes", "totp"], "devices": 2}
    # Their next login asks them to set up a new one, not for the old app's code.
    other = client.__class__()
    password_login(other, support_user.username)
    assert follow_target(other.get("/admin/")).startswith("/admin/security/?next=")
    assert device.key  # the old key is gone from the database, not reusable
    assert not TOTPDevice.objects.filter(key=device.key).exists()


@pytest.mark.django_db
def test_an_admin_who_is_not_a_superuser_cannot_reset_someone_elses(client, mfa_on,
                                                                    admin_user_role,
                                                                    support_user):
    login_verified(client, admin_user_role)
    enrol_totp(support_user)
    reset_url = reverse("admin:security_reset", args=[support_user.pk])
    assert client.get(reset_url).status_code == 403
    assert client.post(reset_url).status_code == 403
    assert client.get("/admin/security/staff/").status_code == 403
    assert TOTPDevice.objects.filter(user=support_user).exists()
    assert not StaffAction.objects.filter(action="security.second_factor_reset").exists()


@pytest.mark.django_db
def test_a_reset_needs_a_fresh_code_from_the_superuser(client, mfa_on, support_user,
                                                       settings):
    boss = UserFactory(username="boss", is_superuser=True)
    device = login_verified(client, boss)
    enrol_totp(support_user)
    session = client.session
    session[assurance.SESSION_KEY] = (timezone.now() - timedelta(
        seconds=settings.STEP_UP_MAX_AGE_SECONDS + 60)).isoformat()
    session.save()
    reset_url = reverse("admin:security_reset", args=[support_user.pk])
    response = client.post(reset_url, {"code": ""})
    assert response.status_code == 200
    assert b"Your code: enter a current code" in response.content
    assert TOTPDevice.objects.filter(user=support_user).exists()
    time.sleep(1.1)
    response = client.post(reset_url, {"code": totp_code(device)})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=support_user).exists()


# --- lockout (django-axes) ---------------------------------------------------------------


@pytest.mark.django_db
def test_lockout_after_the_failure_limit_refuses_even_the_right_password(client, mfa_on,
                                                                         settings,
                                                                         support_user):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        response = password_login(client, support_user.username, "wrong-password-1")
        assert response.status_code == 200  # the login form again, with its error
    locked = password_login(client, support_user.username, "wrong-password-1")
    assert locked.status_code == 429
    assert b"Logging in is blocked" in locked.content
    assert b"Try again after" in locked.content

    refused = password_login(client, support_user.username, PASSWORD)
    assert refused.status_code == 429
    assert b"Try again after" in refused.content
    assert client.get("/admin/").status_code == 302  # not signed in

    attempt = AccessAttempt.objects.get(username=support_user.username)
    assert attempt.failures_since_start == limit
    assert attempt.ip_address == "127.0.0.1"
    assert PASSWORD not in attempt.post_data and "wrong-password-1" not in attempt.post_data
    assert AccessFailureLog.objects.filter(username=support_user.username).count() >= limit


@pytest.mark.django_db
def test_lockout_is_per_user_and_address(client, mfa_on, settings, support_user,
                                         finance_user):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        password_login(client, support_user.username, "wrong-password-1")
    # Another user from the same address still logs in.
    assert follow_target(password_login(client, finance_user.username)) == "/admin/"


@pytest.mark.django_db
def test_admins_see_login_attempts_in_the_admin(client, admin_user_role, support_user):
    for _ in range(2):
        password_login(client, support_user.username, "wrong-password-1")
    assert admin_user_role.has_perm("axes.view_accessattempt")
    assert admin_user_role.has_perm("axes.view_accessfailurelog")
    assert not admin_user_role.has_perm("axes.delete_accessattempt")
    assert not Permission.objects.filter(group__name=ADMIN, content_type__app_label="axes") \
        .exclude(codename__startswith="view_").exists()
    client.force_login(admin_user_role)
    page = client.get("/admin/axes/accessattempt/")
    assert page.status_code == 200
    assert support_user.username.encode() in page.content
    assert client.get("/admin/axes/accessfailurelog/").status_code == 200


# --- the demo banner -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_banner_says_second_factors_are_off_in_the_demo(client, settings, finance_user):
    settings.STAFF_MFA_REQUIRED = False
    assert BANNER.encode() in client.get("/admin/login/").content
    client.force_login(finance_user)
    for url in ["/admin/", "/finance/", "/admin/billing/order/"]:
        assert BANNER.encode() in client.get(url).content, url


@pytest.mark.django_db
def test_no_banner_when_second_factors_are_required(client, mfa_on, finance_user):
    assert BANNER.encode() not in client.get("/admin/login/").content
    login_verified(client, finance_user)
    for url in ["/admin/", "/finance/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert BANNER.encode() not in response.content, url


@pytest.mark.django_db
def test_in_the_demo_a_password_alone_gets_in(client, settings, finance_user):
    settings.STAFF_MFA_REQUIRED = False
    assert follow_target(password_login(client, finance_user.username)) == "/admin/"
    assert client.get("/finance/").status_code == 200


# --- session lifetime -------------------------------------------------------------------


def _session_of(client):
    class Request:
        session = client.session

    return Request()


@pytest.mark.django_db
def test_a_session_older_than_the_absolute_limit_is_logged_out_however_active(
        client, settings, support_user):
    settings.STAFF_MFA_REQUIRED = False
    password_login(client, support_user.username)
    assert client.get("/admin/").status_code == 200
    session = client.session
    session[LOGIN_AT_KEY] = (timezone.now() - timedelta(
        seconds=settings.SESSION_ABSOLUTE_SECONDS + 1)).isoformat()
    session.save()
    key = session.session_key
    # Active a moment ago (the cookie was just re-issued), yet its time is up.
    response = client.get("/admin/")
    assert follow_target(response).startswith("/admin/login/")
    assert not Session.objects.filter(session_key=key).exists()
    assert client.get("/finance/").status_code == 302


@pytest.mark.django_db
def test_a_session_within_the_limit_stays(client, settings, support_user):
    settings.STAFF_MFA_REQUIRED = False
    password_login(client, support_user.username)
    session = client.session
    session[LOGIN_AT_KEY] = (timezone.now() - timedelta(
        seconds=settings.SESSION_ABSOLUTE_SECONDS - 60)).isoformat()
    session.save()
    assert client.get("/admin/").status_code == 200


@pytest.mark.django_db
def test_the_idle_limit_is_the_cookie_age_renewed_on_every_request(client, settings,
                                                                   support_user):
    settings.STAFF_MFA_REQUIRED = False
    password_login(client, support_user.username)
    client.get("/admin/")
    session = Session.objects.get(session_key=client.cookies["sessionid"].value)
    remaining = session.expire_date - timezone.now()
    assert timedelta(seconds=settings.SESSION_COOKIE_AGE - 30) < remaining <= timedelta(
        seconds=settings.SESSION_COOKIE_AGE)
    # An idle session past its age is not accepted.
    Session.objects.filter(pk=session.pk).update(expire_date=timezone.now()
                                                 - timedelta(seconds=1))
    assert follow_target(client.get("/admin/")).startswith("/admin/login/")


@pytest.mark.django_db
def test_logout_ends_the_session_and_the_old_cookie_no_longer_works(client, mfa_on,
                                                                    support_user):
    login_verified(client, support_user)
    assert client.get("/admin/").status_code == 200
    old_cookie = client.cookies["sessionid"].value
    assert Session.objects.filter(session_key=old_cookie).exists()

    client.post("/admin/logout/")
    assert not Session.objects.filter(session_key=old_cookie).exists()

    replay = client.__class__()
    replay.cookies["sessionid"] = old_cookie
    assert follow_target(replay.get("/admin/")).startswith("/admin/login/")


@pytest.mark.django_db
def test_an_unverified_session_can_still_log_out(client, mfa_on, support_user):
    enrol_totp(support_user)
    password_login(client, support_user.username)
    key = client.cookies["sessionid"].value
    client.post("/admin/logout/")
    assert not Session.objects.filter(session_key=key).exists()


@pytest.mark.django_db
def test_devices_are_managed_only_on_the_audited_pages(client, mfa_on):
    """django-otp's own device admin would show a TOTP key and delete devices unaudited."""
    boss = UserFactory(username="boss", is_superuser=True)
    login_verified(client, boss)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_static/staticdevice/").status_code == 404
    assert client.get("/admin/security/staff/").status_code == 200


@pytest.mark.django_db
def test_passkey_ceremonies_are_open_before_the_second_factor_and_json(client, mfa_on,
                                                                      support_user):
    password_login(client, support_user.username)
    # A first device may be a passkey: registration starts without a redirect.
    response = client.post("/admin/security/webauthn/registration/begin/")
    assert response.status_code == 200
    assert response.json()["rp"]["id"]
    # No passkey login on its own: a password comes first.
    anonymous = client.__class__()
    response = anonymous.post("/admin/security/webauthn/authentication/begin/")
    assert response.status_code == 403
