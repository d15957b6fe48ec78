"""The forms of the support cockpit, through the admin: the holder form starts from the
holder, replacing it offers the customer's other contacts and refuses a no-op before any
fee gate, a shared tech contact stays selectable, every error names its field, length
limits are the server's, and money is typed and shown in major units with its currency."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backoffice.models import StaffAction
from billing.models import Order
from contacts.forms import ContactForm
from contacts.validation import CONTACT_LIMITS, clean_contact_fields
from registrar.forms import ContactFieldsForm, HolderForm
from registrar.models import Tld
from tests.backoffice.admin_forms import form_data
from tests.factories import (
    AccountFactory,
    ContactFactory,
    LedgerEntryFactory,
    OrderFactory,
    OrderItemFactory,
    RegistrationFactory,
    TldFactory,
)


@pytest.fixture
def world(sandbox):
    """A customer with two registrations on a TLD that meters registrant changes; the
    second one's holder and a shared tech contact (no customer account, tech on many
    registrations) are contacts the first one may take too."""
    tld = TldFactory(name="com", registrant_change_fee_amount=1200,
                     registrant_change_fee_currency="USD")
    customer = AccountFactory()
    holder = ContactFactory(account=customer, handle="HOLDER-1", first_name="Ada",
                            last_name="Lovelace", city="Amsterdam")
    spare = ContactFactory(account=customer, handle="SPARE-1", first_name="Grace")
    shared_tech = ContactFactory(account=None, handle="SHARED-TECH", first_name="Tech")
    registration = RegistrationFactory(name="cockpit-forms.com", tld=tld, account=customer,
                                       owner_contact=holder, tech_contact=shared_tech)
    other_holder = ContactFactory(account=None, handle="OTHER-HOLDER", first_name="Linus")
    RegistrationFactory(name="cockpit-other.com", tld=tld, account=customer,
                        owner_contact=other_holder, tech_contact=shared_tech)
    # Someone else's contact: never offered.
    ContactFactory(account=AccountFactory(), handle="FOREIGN-1")
    sandbox.seed()
    sandbox.transport.requests.clear()
    return type("World", (), {"registration": registration, "holder": holder,
                              "spare": spare, "shared_tech": shared_tech,
                              "other_holder": other_holder, "sandbox": sandbox})


def op_url(registration, name: str) -> str:
    return reverse("admin:registrar_registration_operation", args=[registration.pk, name])


def options(html: str, select: str) -> set[str]:
    block = re.search(rf'<select name="{select}"[^>]*>(.*?)</select>', html, re.S)
    assert block, f"no <select name={select}>"
    return set(re.findall(r"<option value=\"\d+\"[^>]*>([^<]*)</option>", block.group(1)))


def input_tag(html: str, name: str) -> str:
    tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    assert tag, f"no <input name={name}>"
    return tag.group(0)


def shown(response) -> dict[str, str]:
    """What a browser posts back for an operation page's form, as it was rendered."""
    form = response.context["form"]
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value not in (None, False, ""):
            data[name] = "on" if value is True else str(value)
    return data


def errornote(html: str) -> str:
    return " ".join(re.findall(r'<p class="errornote">(.*?)</p>', html, re.S))


# --- the holder form ----------------------------------------------------------------------


def test_holder_form_starts_from_the_current_holder(client, world, support_user):
    client.force_login(support_user)
    html = client.get(op_url(world.registration, "holder")).content.decode()
    for name, value in (("first_name", "Ada"), ("last_name", "Lovelace"),
                        ("city", "Amsterdam"), ("country", "NL"),
                        ("email", world.holder.email), ("phone", "+31.201234567")):
        assert f'value="{value}"' in input_tag(html, name), name


def test_editing_one_field_sends_only_that_field(client, world, support_user):
    client.force_login(support_user)
    base = shown(client.get(op_url(world.registration, "holder")))
    response = client.post(op_url(world.registration, "holder"),
                           {**base, "action_mode": "edit_current", "city": "Utrecht"})
    assert response.status_code == 302
    audit = StaffAction.objects.get()
    assert audit.parameters["holder"] == {"city": "Utrecht"}


def test_unchanged_holder_form_is_refused_and_sends_nothing(client, world, support_user):
    client.force_login(support_user)
    base = shown(client.get(op_url(world.registration, "holder")))
    response = client.post(op_url(world.registration, "holder"),
                           {**base, "action_mode": "edit_current"})
    assert response.status_code == 200
    assert "Change at least one holder field." in response.content.decode()
    assert world.sandbox.transport.requests == []


# --- replacing the holder -----------------------------------------------------------------


@pytest.mark.parametrize("operation", ["holder", "registrant_change"])
def test_replace_offers_the_customers_other_contacts(client, world, support_user, operation):
    client.force_login(support_user)
    html = client.get(op_url(world.registration, operation)).content.decode()
    offered = options(html, "source_contact")
    for contact in (world.holder, world.spare, world.other_holder, world.shared_tech):
        assert str(contact) in offered, contact.handle
    assert not any("FOREIGN-1" in label for label in offered)


@pytest.mark.parametrize(("operation", "extra"), [
    ("holder", {"action_mode": "change"}), ("registrant_change", {})])
def test_the_current_holder_is_refused_before_the_fee_gate(client, world, support_user,
                                                           operation, extra):
    client.force_login(support_user)
    response = client.post(op_url(world.registration, operation),
                           {**extra, "source_contact": world.holder.pk})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["source_contact"] == [
        f"{world.holder} is already the holder of cockpit-forms.com. Choose another "
        "contact, or edit the current holder instead (free)."]
    assert world.sandbox.transport.requests == []  # nothing left for upstream
    assert not Order.objects.exists()  # no order, so no charge
    assert not StaffAction.objects.exists()
    world.registration.refresh_from_db()
    assert world.registration.owner_contact_id == world.holder.pk


def test_a_new_contact_that_is_the_holder_unchanged_is_refused(client, world, support_user):
    client.force_login(support_user)
    base = shown(client.get(op_url(world.registration, "holder")))
    response = client.post(op_url(world.registration, "holder"),
                           {**base, "action_mode": "change"})
    assert response.status_code == 200
    assert "replacing it with them changes nothing" in errornote(response.content.decode())
    assert world.sandbox.transport.requests == []
    assert not StaffAction.objects.exists()


def test_another_contact_of_the_customer_can_replace_the_holder(client, world, support_user):
    client.force_login(support_user)
    response = client.post(op_url(world.registration, "registrant_change"),
                           {"source_contact": world.other_holder.pk})
    assert response.status_code == 302, response.context["form"].errors
    assert Order.objects.filter(registration=world.registration).count() == 1


# --- role contacts ------------------------------------------------------------------------


def test_the_shared_tech_contact_can_be_picked_again(client, world, support_user):
    client.force_login(support_user)
    html = client.get(op_url(world.registration, "role_contacts")).content.decode()
    assert str(world.shared_tech) in options(html, "tech_contact")
    response = client.post(op_url(world.registration, "role_contacts"), {
        "admin_source": "existing", "admin_contact": world.shared_tech.pk})
    assert response.status_code == 302, response.context["form"].errors
    assert StaffAction.objects.get().outcome == "succeeded"


def test_an_empty_new_contact_gets_one_error_per_field_by_name(client, world, support_user):
    client.force_login(support_user)
    response = client.post(op_url(world.registration, "role_contacts"),
                           {"tech_source": "new"})
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("First name", "Last name", "Country", "Email", "Phone"):
        assert f"<li>{label}: This field is required.</li>" in html, label
    # Not a banner of "This field is required." said over and over.
    assert "This field is required" not in errornote(html)
    assert errornote(html).count("Some contact fields are not valid.") == 1
    assert world.sandbox.transport.requests == []


# --- length limits: one source --------------------------------------------------------------


@pytest.mark.parametrize("form_class", [ContactFieldsForm, HolderForm, ContactForm])
def test_form_max_length_is_the_server_limit(form_class):
    form = form_class()
    for name, limit in CONTACT_LIMITS.items():
        assert form.fields[name].max_length == limit, (form_class.__name__, name)
        assert form.fields[name].widget.attrs["maxlength"] == str(limit)


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(CONTACT_LIMITS)), extra=st.integers(-2, 3))
def test_form_and_server_agree_on_every_length(name, extra):
    value = "a" * (CONTACT_LIMITS[name] + extra)
    if name == "email":
        value = "a" * max(1, CONTACT_LIMITS[name] + extra - 12) + "@example.com"
    form = ContactFieldsForm({name: value})
    form_ok = form.is_valid()
    try:
        clean_contact_fields({name: value}, partial=True)
        server_ok = True
    except ValidationError as refusal:
        server_ok = False
        assert name in refusal.message_dict
    if name != "email":  # the e-mail rule has more to say than its length
        assert form_ok == server_ok == (len(value) <= CONTACT_LIMITS[name])
    else:
        assert form_ok or not server_ok


@settings(max_examples=5, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=st.integers(1, 30))
def test_a_first_name_over_the_limit_is_refused_by_name(client, world, support_user, extra):
    client.force_login(support_user)
    html = client.get(op_url(world.registration, "holder")).content.decode()
    limit = CONTACT_LIMITS["first_name"]
    assert f'maxlength="{limit}"' in input_tag(html, "first_name")
    base = shown(client.get(op_url(world.registration, "holder")))
    long_name = "A" * (limit + extra)
    response = client.post(op_url(world.registration, "holder"),
                           {**base, "action_mode": "edit_current", "first_name": long_name})
    assert response.status_code == 200
    page = response.content.decode()
    assert (f"<li>First name: Ensure this value has at most {limit} characters "
            f"(it has {limit + extra}).</li>") in page
    assert world.sandbox.transport.requests == []
    world.holder.refresh_from_db()
    assert world.holder.first_name == "Ada"  # neither stored nor cut to fit


# --- money in major units ------------------------------------------------------------------


def test_tld_fees_are_typed_and_shown_in_major_units(client, sandbox, admin_user_role):
    tld = TldFactory(name="shop", provider_account=None)
    client.force_login(admin_user_role)
    url = reverse("admin:registrar_tld_change", args=[tld.pk])
    base = form_data(client.get(url))
    response = client.post(url, {**base, "privacy_fee_amount": "4.99",
                                 "privacy_fee_currency": "USD",
                                 "registrant_change_fee_amount": "500",
                                 "registrant_change_fee_currency": "JPY"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    tld.refresh_from_db()
    assert (tld.privacy_fee_amount, tld.privacy_fee_currency) == (499, "USD")
    assert (tld.registrant_change_fee_amount, tld.registrant_change_fee_currency) == (
        500, "JPY")
    html = client.get(url).content.decode()
    assert 'value="4.99"' in input_tag(html, "privacy_fee_amount")
    assert 'value="500"' in input_tag(html, "registrant_change_fee_amount")


@pytest.mark.parametrize(("typed", "currency", "message"), [
    ("4.999", "USD", "USD has 2 decimals; 4.999 has more."),
    ("4.5", "JPY", "JPY has 0 decimals; 4.5 has more."),
    ("499 cents", "USD", "Enter an amount such as 4.99, with a dot for decimals."),
])
def test_a_fee_the_currency_cannot_hold_is_refused_on_its_field(
        client, sandbox, admin_user_role, typed, currency, message):
    tld = TldFactory(name="shop", provider_account=None)
    client.force_login(admin_user_role)
    url = reverse("admin:registrar_tld_change", args=[tld.pk])
    response = client.post(url, {**form_data(client.get(url)), "privacy_fee_amount": typed,
                                 "privacy_fee_currency": currency})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["privacy_fee_amount"]
    assert errors == [f"Enter the fee in {currency}, such as 4.99: {message}"]
    assert Tld.objects.get(pk=tld.pk).privacy_fee_amount is None


def test_the_order_page_shows_money_in_major_units(client, sandbox, admin_user_role):
    order = OrderFactory(subtotal_minor=1299, fees_minor=100, total_minor=1399,
                         currency="USD")
    item = OrderItemFactory(order=order, unit_amount_minor=1299, total_minor=1299)
    entry = LedgerEntryFactory(order=order, amount_minor=1399, currency="USD")
    client.force_login(admin_user_role)
    html = client.get(reverse("admin:billing_order_change", args=[order.pk])).content.decode()
    for label, amount in (("Subtotal", "12.99 USD"), ("Fees", "1.00 USD"),
                          ("Total", "13.99 USD")):
        assert re.search(rf"<label>{label}:</label>\s*<div class=\"readonly\">{amount}</div>",
                         html), label
    assert "12.99 USD" in html  # the item's amounts, in the inline
    for url in (reverse("admin:billing_order_change", args=[order.pk]),
                reverse("admin:billing_orderitem_change", args=[item.pk]),
                reverse("admin:billing_ledgerentry_change", args=[entry.pk])):
        page = client.get(url).content.decode()
        # The fields and the inlines' columns (a row's own title is the model's str).
        shown = " ".join(re.findall(r'<div class="readonly">([^<]*)</div>', page))
        shown += " ".join(re.findall(r'<td class="field-[a-z_]+">\s*(?:<p>)?([^<]*)', page))
        assert not re.search(r"(?<![.\d])1[23]99(?![.\d])", shown), (url, shown)
