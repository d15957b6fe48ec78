"""Registration operations through the admin: who sees which button, what a direct POST
does, every error branch without a 500, the auth-code page, and the bulk actions."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils.html import escape

from backoffice.models import StaffAction
from backoffice.roles import ADMIN, FINANCE, SUPPORT
from billing.models import Order
from registrar.models import Registration
from registrar.providers.domain_api.adapter import DomainApiProvider
from registrar.services import OPERATIONS
from tests.factories import ContactFactory, RegistrationFactory, TldFactory
from tests.registrar.test_services import ERROR_CASES

KEY_LINE = ("257 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+"
            "KkxLbxILfDLUT0rAK9iUzy1L53eKGQ==")

# The form data a person would submit for each operation page.
FORMS = {
    "lock": {"enabled": "1"},
    "privacy": {"enabled": "1"},
    "auto_renew": {"enabled": "0"},
    "dnssec": {"mode": "enable", "keys": KEY_LINE},
    "nameservers": {"nameservers": "ns1.host.example\nns2.host.example"},
    "holder": {"action_mode": "edit_current", "city": "Utrecht"},
    "registrant_change": {"first_name": "Grace", "last_name": "Hopper", "country": "US",
                          "email": "grace@example.com", "phone": "+1.2025550143"},
    "role_contacts": {"tech_source": "same_as_owner"},
    "force_sync": {},
    "transfer_out": {"decision": "approve"},
    "push_transfer": {"recipient": "REG-IDS"},
    "resend_verification": {},
}
# test_services' operation names -> the admin page that runs them
PAGE_OF = {"holder_edit": "holder", "holder_change": "holder"}
UNKNOWN_502 = ("No usable answer came back from the registrar (it answered HTTP 502), after "
               "the request was sent: it may have applied the change.")


@pytest.fixture
def world(sandbox):
    tld = TldFactory(name="com", supports_push_transfer=True, requires_contact_validation=True,
                     registrant_change_fee_amount=1200, registrant_change_fee_currency="USD")
    metered = TldFactory(name="net", privacy_fee_amount=499, privacy_fee_currency="USD")
    registration = RegistrationFactory(name="admin-ops.com", tld=tld, transfer_out_pending=True)
    ContactFactory(account=registration.account, handle="SPARE-1")
    metered_registration = RegistrationFactory(name="admin-ops.net", tld=metered)
    sandbox.seed()
    sandbox.transport.requests.clear()
    return type("World", (), {"registration": registration, "metered": metered_registration,
                              "sandbox": sandbox})


def op_url(registration: Registration, name: str) -> str:
    if name == "auth_code":
        return reverse("admin:registrar_registration_auth_code", args=[registration.pk])
    return reverse("admin:registrar_registration_operation", args=[registration.pk, name])


def change_url(registration: Registration) -> str:
    return reverse("admin:registrar_registration_change", args=[registration.pk])


# --- the permission matrix -------------------------------------------------------------

# On a Domain API registration: every operation that API offers (not, e.g., DNS records).
DOMAIN_API_OPS = {name for name, op in OPERATIONS.items()
                  if op.capability in DomainApiProvider.capabilities}
ALLOWED = {SUPPORT: DOMAIN_API_OPS, ADMIN: DOMAIN_API_OPS, FINANCE: set(), "staff": set()}


@pytest.mark.parametrize("role", [SUPPORT, FINANCE, ADMIN, "staff"])
def test_buttons_and_direct_posts_follow_the_permissions(client, world, role_users, role):
    client.force_login(role_users[role])
    page = client.get(change_url(world.registration))
    if role == "staff":
        assert page.status_code == 403  # not even allowed to look
    else:
        shown = set(re.findall(r'data-operation="([a-z_]+)"', page.content.decode()))
        assert shown == ALLOWED[role], role
    for name in DOMAIN_API_OPS:
        response = client.post(op_url(world.registration, name), FORMS.get(name, {}))
        if name in ALLOWED[role]:
            assert response.status_code in (200, 302), (role, name, response.status_code)
        else:
            assert response.status_code == 403, (role, name, response.status_code)
    if not ALLOWED[role]:
        assert world.sandbox.transport.mutations == []
        assert not StaffAction.objects.exists()


def test_unsupported_operations_show_disabled_with_the_reason(client, world, support_user):
    registration = RegistrationFactory(name="nolock.de", tld=TldFactory(
        name="de", supports_transfer_lock=False, supports_privacy=False))
    client.force_login(support_user)
    html = client.get(change_url(registration)).content.decode()
    lock = re.search(r'<span class="button disabled" title="([^"]+)" data-operation="lock"',
                     html)
    assert lock and "does not support a transfer lock" in lock.group(1)
    # A hand-made POST is refused with the same reason, before any HTTP.
    response = client.post(op_url(registration, "lock"), {"enabled": "1"}, follow=True)
    assert "does not support a transfer lock" in response.content.decode()
    assert world.sandbox.transport.requests == []


def test_a_get_never_changes_anything(client, world, support_user):
    client.force_login(support_user)
    for name in OPERATIONS:
        client.get(op_url(world.registration, name))
    assert world.sandbox.transport.mutations == []
    assert not StaffAction.objects.exists()


# --- every error branch, through the admin, without a 500 ---------------------------------


@pytest.mark.parametrize(("name", "status", "code"), ERROR_CASES,
                         ids=[f"{n}-{s}-{c}" for n, s, c in ERROR_CASES])
def test_no_documented_error_gives_a_500(client, world, support_user, name, status, code):
    page = PAGE_OF.get(name, name)
    world.sandbox.fault(f"^/api/domain_registrations/{world.registration.upstream_id}",
                        status=status, code=code, times=10)
    client.force_login(support_user)
    form = FORMS.get(page, {})
    if name == "holder_change":
        form = {"action_mode": "change", **FORMS["registrant_change"]}
    if name == "auth_code":
        response = client.post(op_url(world.registration, "auth_code"), {"confirm": "on"},
                               follow=True)
    else:
        response = client.post(op_url(world.registration, page), form, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    # A 502 after a write (every page but the auth code's read) says nothing of whether
    # it was applied: the outcome is unknown, shown as a warning (not an error), and
    # never "Nothing was changed".
    unknown = status == 502 and name != "auth_code"
    assert StaffAction.objects.get().outcome == ("unknown" if unknown else "failed")
    assert "Nothing was changed" not in html
    if not unknown:
        assert code in html  # the message names the registrar's code
        assert 'class="error"' in html or "errornote" in html
        assert "may have applied" not in html
        return
    assert 'class="warning"' in html
    world.registration.refresh_from_db()
    if name == "registrant_change":
        # The paid change's local order stays open, asked about again with its key.
        order = Order.objects.get(registration=world.registration)
        assert escape(f"{UNKNOWN_502} Its order {order.pk} stays open: the back-office asks "
                      "the registrar again with the same idempotency key, which cannot charge "
                      "twice, and follows whatever it says.") in html
        assert order.unsettled_since is not None
        assert world.registration.unsettled_operation == ""
        again = "A registrant change is already ordered for admin-ops.com (order " \
            f"{order.pk}); it is followed until it ends."
    else:
        # The re-read hit the same 502: the registration stays unsettled for the
        # operation, which is refused until it has been read again.
        assert escape(f"{UNKNOWN_502} It could not be read again now (The registrar is not "
                      "answering; try later). Until it has been, this operation is refused "
                      "here; the back-office keeps trying.") in html
        assert world.registration.unsettled_operation == page
        assert world.registration.unsettled_since is not None
        label = OPERATIONS[page].label.lower()
        again = (f"{label} change may have been applied (no usable answer came back), and "
                 "the registration has not been read again yet. The back-office keeps trying; "
                 "a re-sync settles it now.")
    sent = len(world.sandbox.transport.requests)
    response = client.post(op_url(world.registration, page), form, follow=True)
    if name == "force_sync":
        # A re-sync is how an unsettled registration settles: never refused for it. It is
        # sent again, meets the same 502, and is unknown again.
        again_html = response.content.decode()
        assert len(world.sandbox.transport.requests) > sent
        assert list(StaffAction.objects.values_list("outcome", flat=True)) == [
            "unknown", "unknown"]
        assert 'class="warning"' in again_html
        assert escape(f"{UNKNOWN_502} It could not be read again now (The registrar is not "
                      "answering; try later). Until it has been, this operation is refused "
                      "here; the back-office keeps trying.") in again_html
        return
    assert escape(again) in response.content.decode()
    assert len(world.sandbox.transport.requests) == sent  # refused before any HTTP
    assert StaffAction.objects.count() == 1


# --- pages with something particular ---------------------------------------------------------


def test_lock_from_the_page_shows_success_and_the_new_state(client, world, support_user):
    client.force_login(support_user)
    response = client.post(op_url(world.registration, "lock"), {"enabled": "1"}, follow=True)
    html = response.content.decode()
    assert "The transfer lock is now on" in html
    assert re.search(r'id="summary-locked"[^>]*>Locked<', html)


def test_metered_privacy_shows_the_fee_and_portal_link(client, world, support_user):
    client.force_login(support_user)
    response = client.post(op_url(world.metered, "privacy"), {"enabled": "1"}, follow=True)
    html = response.content.decode()
    assert "4.99 USD" in html and 'class="portal-link"' in html
    world.metered.refresh_from_db()
    assert world.metered.privacy_protect is False


def test_auth_code_needs_confirmation_and_is_never_cached(client, world, support_user):
    client.force_login(support_user)
    url = op_url(world.registration, "auth_code")
    unconfirmed = client.post(url, {})
    assert unconfirmed.status_code == 200 and b"This field is required" in unconfirmed.content
    assert world.sandbox.transport.requests == []
    shown = client.post(url, {"confirm": "on"})
    assert shown["Cache-Control"].startswith("no-store")
    code = re.search(r'<code id="authcode"[^>]*>([^<]+)</code>', shown.content.decode()).group(1)
    row = StaffAction.objects.get()
    assert code not in str(row.parameters) and code not in row.message


def test_nameservers_warn_and_need_confirmation_while_dnssec_is_on(client, world, support_user):
    Registration.objects.filter(pk=world.registration.pk).update(dnssec_enabled=True)
    client.force_login(support_user)
    url = op_url(world.registration, "nameservers")
    assert b'id="operation-warning"' in client.get(url).content
    refused = client.post(url, FORMS["nameservers"])
    assert b"Confirm that you have checked the DNSSEC impact" in refused.content
    assert world.sandbox.transport.requests == []
    done = client.post(url, {**FORMS["nameservers"], "confirm_dnssec": "on"})
    assert done.status_code == 302


def test_bad_input_is_shown_on_the_form_and_sends_nothing(client, world, support_user):
    client.force_login(support_user)
    for name, data, message in [
        ("nameservers", {"nameservers": "ns1.only.example"}, "between 2 and 13"),
        ("dnssec", {"mode": "enable", "keys": "257 5 AAAA"}, "deprecated"),
        ("push_transfer", {"recipient": "no spaces please"}, "handle"),
        ("holder", {"action_mode": "edit_current", "phone": "0201234567"}, "international"),
    ]:
        response = client.post(op_url(world.registration, name), data)
        assert response.status_code == 200, name
        assert message in response.content.decode(), name
    assert world.sandbox.transport.requests == []


def test_transfer_out_page_shows_the_live_request(client, world, support_user):
    client.force_login(support_user)
    html = client.get(op_url(world.registration, "transfer_out")).content.decode()
    assert 'id="transfer-out-details"' in html
    assert "Could not load" not in html


# --- bulk actions ----------------------------------------------------------------------------


def test_bulk_lock_confirms_then_reports_each_outcome(client, world, support_user):
    nolock = RegistrationFactory(name="bulk.de", tld=TldFactory(
        name="de", supports_transfer_lock=False))
    client.force_login(support_user)
    url = reverse("admin:registrar_registration_changelist")
    selected = [world.registration.pk, nolock.pk]
    confirm = client.post(url, {"action": "bulk_lock", "_selected_action": selected})
    html = confirm.content.decode()
    assert "admin-ops.com" in html and "bulk.de" in html and "will be refused" in html
    assert world.sandbox.transport.requests == []
    report = client.post(url, {"action": "bulk_lock", "_selected_action": selected,
                               "post": "yes"}).content.decode()
    assert 'class="outcome-succeeded"' in report and 'class="outcome-refused"' in report
    world.registration.refresh_from_db()
    assert world.registration.locked


def test_finance_gets_no_bulk_operations(client, world, finance_user):
    client.force_login(finance_user)
    html = client.get(reverse("admin:registrar_registration_changelist")).content.decode()
    assert "bulk_lock" not in html and "bulk_force_sync" not in html
