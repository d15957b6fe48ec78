import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(
    ("username", "password", "sees", "does_not_see"),
    [
        ("support", "support-demo-2026", "Registrations", "Ledger entries"),
        ("finance", "finance-demo-2026", "Ledger entries", "Staff actions"),
        ("admin", "admin-demo-2026", "Staff actions", None),
    ],
)
def test_each_role_logs_in_and_sees_its_dashboard(demo, login, username, password, sees,
                                                  does_not_see):
    page = login(username, password)
    page.wait_for_selector("#site-name")
    assert page.inner_text("#site-name") == "Registrar back-office"
    body = page.inner_text("#content")
    assert sees in body
    if does_not_see:
        assert does_not_see not in body


def test_support_finds_an_idn_registration_by_its_unicode_name(demo, login):
    page = login("support", "support-demo-2026")
    page.goto("/admin/registrar/registration/?q=bücher")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert "bücher-harbour.de" in rows.first.inner_text()


# --- with second factors required, as in production ---------------------------------


@pytest.fixture
def mfa_on(settings):
    settings.STAFF_MFA_REQUIRED = True
    return settings


@pytest.fixture
def csp_violations(page):
    """Every Content-Security-Policy refusal the browser reports on the console."""
    seen = []
    page.on("console", lambda message: seen.append(message.text)
            if "Content Security Policy" in message.text else None)
    return seen


def test_password_then_a_code_then_the_dashboard(transactional_db, mfa_on, login,
                                                 csp_violations):
    from tests.factories import UserFactory
    from tests.mfa import enrol_totp, totp_code

    user = UserFactory(username="finance-mfa", groups=["Finance"])
    device = enrol_totp(user)
    page = login("finance-mfa", "correct-horse-battery")
    page.wait_for_selector("#code-form")
    assert "Step two of two" in page.inner_text("#content")
    assert "/admin/security/verify/" in page.url
    # The admin is still closed: asking for it comes back here.
    page.goto("/finance/")
    page.wait_for_selector("#code-form")

    page.fill("#id_code", totp_code(device))
    page.click("#code-form input[type=submit]")
    page.wait_for_selector("#finance-link, .finance-nav")
    assert page.url.endswith("/finance/")
    page.goto("/admin/")
    page.wait_for_selector("#site-name")
    assert "Orders, totals and revenue" in page.inner_text("#content")
    assert "Two-factor login is off" not in page.content()
    assert csp_violations == []


def test_a_new_user_sets_up_an_authenticator_app_from_its_qr_code_page(
        transactional_db, mfa_on, login, csp_violations):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.factories import UserFactory
    from tests.mfa import totp_code

    UserFactory(username="support-new", groups=["Support"])
    page = login("support-new", "correct-horse-battery")
    page.wait_for_selector("#totp-start")
    assert "needs a second factor" in page.inner_text("#content")
    page.click("#totp-start")
    page.wait_for_selector("#totp-qr svg")
    assert page.inner_text("#totp-key").strip()
    page.fill("#id_code", totp_code(TOTPDevice.objects.get(user__username="support-new")))
    page.click("input[type=submit][value=Confirm]")
    page.wait_for_selector("#backup-codes-generate")
    page.click("#backup-codes-generate")
    page.wait_for_selector("#backup-codes")
    assert len(page.locator("#backup-codes li").all()) == 10
    page.goto("/admin/")
    assert "Registrations" in page.inner_text("#content")
    assert csp_violations == []


def test_repeated_wrong_passwords_lock_out_even_the_right_one(transactional_db, mfa_on,
                                                              login, settings):
    from tests.factories import UserFactory

    UserFactory(username="support-locked", groups=["Support"])
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        page = login("support-locked", "not-the-password")
        page.wait_for_selector(".errornote")
        assert "enter the correct username and password" in page.inner_text("#content")
    page = login("support-locked", "not-the-password")
    page.wait_for_selector("#locked-out")
    page = login("support-locked", "correct-horse-battery")
    page.wait_for_selector("#locked-out")
    body = page.inner_text("#content")
    assert "Logging in is blocked for support-locked" in body
    assert "Try again after" in body
    assert page.inner_text("#site-name") == "Registrar back-office"


def test_a_passkey_is_registered_then_verifies_the_next_login(transactional_db, mfa_on,
                                                              live_server, page, login,
                                                              csp_violations):
    """Chromium's virtual authenticator stands in for a phone or a security key; the
    ceremony and django-otp-webauthn's scripts are the real ones."""
    from django_otp_webauthn.models import WebAuthnCredential

    from backoffice.models import StaffAction
    from tests.factories import UserFactory
    from tests.mfa import enrol_totp, totp_code

    mfa_on.OTP_WEBAUTHN_RP_ID = "localhost"
    mfa_on.OTP_WEBAUTHN_ALLOWED_ORIGINS = [live_server.url]
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
        "hasUserVerification": True, "isUserVerified": True}})

    user = UserFactory(username="admin-passkey", groups=["Admin"])
    device = enrol_totp(user)
    login("admin-passkey", "correct-horse-battery")
    page.wait_for_selector("#code-form")
    page.fill("#id_code", totp_code(device))
    page.click("#code-form input[type=submit]")
    page.wait_for_selector("#site-name")

    page.goto("/admin/security/")
    page.click("#passkey-register-button")
    page.wait_for_selector("#passkey-register-status-message.visible")
    assert "Registration successful" in page.inner_text("#passkey-register-status-message")
    assert WebAuthnCredential.objects.filter(user=user, confirmed=True).count() == 1
    assert StaffAction.objects.filter(action="security.second_factor_enrolled", actor=user,
                                      parameters__kind="passkey").count() == 1

    page.click("#logout-form button")
    login("admin-passkey", "correct-horse-battery")
    page.wait_for_selector("#passkey-verification-button")
    page.click("#passkey-verification-button")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.wait_for_selector("#site-name")
    assert "Staff actions" in page.inner_text("#content")
    # The passkey counts as a fresh second factor (step-up), as a code does.
    from django.contrib.sessions.models import Session

    from backoffice import assurance

    cookie = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
    assert assurance.SESSION_KEY in Session.objects.get(session_key=cookie).get_decoded()
    assert csp_violations == []
