"""Hostile input into every admin form and operation page, through the admin client, as
the role that may use each: the registration operation pages, glue hosts, the approval
decision, contacts, the TLD, provider-account and billing-account admin, and the domain,
email-infrastructure and billing-link forms of a customer account.

For each (surface, value): no 500; no upstream request carried the value; no project
row holds it; the page shows an error on THAT field (its errorlist) or a message naming
the field. Valid tricky values (ACCEPTED_*) go through in their canonical form. One test
per surface, looping over the values; the tally is kept through `tests.hostile.tally`.
"""

from __future__ import annotations

import html
from collections.abc import Callable

import pytest
from django.urls import reverse

from billing.models import Order
from registrar.models import Approval, ApprovalStatus, HostAddress, ProviderAccount, Tld
from tests.backoffice.admin_forms import form_data
from tests.billing.test_billing_links import RETURN_URL, entri  # noqa: F401  (fixture)
from tests.billing.test_email_orders import FORM as EMAIL_FORM
from tests.billing.test_email_orders import saleshandy  # noqa: F401  (fixture)
from tests.billing.test_ordering import DOMAINEE, NAMECOM, domainee, namecom  # noqa: F401
from tests.factories import (
    AccountFactory,
    ApprovalFactory,
    ContactFactory,
    HostAddressFactory,
    HostFactory,
    RegistrationFactory,
    TldFactory,
    UserFactory,
)
from tests.hostile.forms_support import Drive, over, text_refused
from tests.hostile.probe import stored_anywhere
from tests.hostile.values import (
    ACCEPTED_ADDRESSES,
    ACCEPTED_NAMES,
    ACCEPTED_PHONES,
    ADDRESSES,
    AMOUNTS,
    COUNTRIES,
    CURRENCIES,
    NAMES,
    NUMBERS,
    PHONES,
)

KEY = "mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="
# E-mail addresses no registry takes (kept here, not in values.py: only contacts take them).
EMAILS = ["", "   ", "ann", "ann@", "@example.com", "ann@@example.com", "ann example@x.com",
          "ann@exa mple.com", "ann\x00@example.com", "ann\u202e@x.com",
          "<ann@example.com>", "ann@example..com", "a" * 250 + "@example.com"]
# Names that are valid TLDs, so not hostile as one: "com" and "example".
TLD_NAMES = [name for name in NAMES if name not in {"com", "example"}] + ["1.2.3.4",
                                                                           "example.c"]
BASE_URLS = ["ftp://x", "javascript:alert(1)", "http://registrar.example", "https://127.0.0.1",
             "https://10.0.0.1/api", "https://localhost", "https://[::1]/", "https://169.254.169.254",
             "https://192.168.1.1", "https://exa mple.com", "https://exam\x00ple.com",
             "https://example.com\u202e", "file:///etc/passwd", "", "   ", "https://",
             "data:text/html,x"]
RETURN_URLS = ["ftp://x", "javascript:alert(1)", "http://www.acme.example/back", "not a url",
               "https://www.acme.example/Ann\x01e", "https://www.acme.example/\u202eexe",
               "https://exa mple.com/", "https://127.0.0.1/back", "https://10.0.0.1/back",
               "data:text/html,x", "", "https://" + "a" * 600 + ".com/"]
MIXED = "p\u0430ypal.com"
LOOKALIKE = "\u0430\u0440\u0440\u04cf\u0435.com"


def op_url(registration, name: str) -> str:
    if name == "auth_code":
        return reverse("admin:registrar_registration_auth_code", args=[registration.pk])
    return reverse("admin:registrar_registration_operation", args=[registration.pk, name])


def hosts_url(registration) -> str:
    return reverse("admin:registrar_registration_hosts", args=[registration.pk])


def drive(surface: str, values: list[str], send: Callable[[str], object], *, field: str,
          requests: Callable[[], list], label: str | None = None,
          form_of: Callable | None = None) -> Drive:
    """Send each value, check the refusal, keep the tally, assert its zeros."""
    run = Drive(surface)
    for value in values:
        # "." and "com" are in every stored name already: what counts is what the POST
        # added. A longer value is in no fixture row, so it needs no baseline.
        baseline = stored_anywhere(value) if len(value) <= 12 else []
        response = send(value)
        run.refuse(value, response, field_name=field, requests=requests(), label=label,
                   form_of=form_of, baseline=baseline)
    run.finish()
    return run


# --- the world ------------------------------------------------------------------------------


@pytest.fixture
def ops(sandbox):
    """admin-ops.com at the sandbox: a TLD with push transfers and a billed registrant
    change, a pending outbound transfer, a spare contact and one glue host."""
    tld = TldFactory(name="com", supports_push_transfer=True,
                     registrant_change_fee_amount=1200, registrant_change_fee_currency="USD")
    registration = RegistrationFactory(name="admin-ops.com", tld=tld, transfer_out_pending=True)
    spare = ContactFactory(account=registration.account, handle="SPARE-1")
    host = HostFactory(registration=registration, host_name="ns1.admin-ops.com")
    HostAddressFactory(host=host, address="192.0.2.1", version=4)
    sandbox.seed()
    sandbox.transport.requests.clear()
    return type("Ops", (), {"registration": registration, "spare": spare, "host": host,
                            "sandbox": sandbox, "requests": lambda: sandbox.transport.requests})


# --- registration operation pages -----------------------------------------------------------


def test_nameservers(client, ops, support_user):
    client.force_login(support_user)
    url = op_url(ops.registration, "nameservers")
    drive("admin:registration:nameservers", over(NAMES),
          lambda v: client.post(url, {"nameservers": f"{v}\nns2.host.example"}),
          field="nameservers", requests=ops.requests)
    for typed, canonical in ACCEPTED_NAMES.items():
        response = client.post(url, {"nameservers": f"{typed}\nns2.host.example"})
        assert response.status_code == 302, (typed, response.context["form"].errors)
        ops.registration.refresh_from_db()
        assert ops.registration.nameservers == [canonical, "ns2.host.example"]
        assert ops.sandbox.transport.requests[-1].content.decode().count(canonical)


def test_dnssec_keys(client, ops, support_user):
    client.force_login(support_user)
    url = op_url(ops.registration, "dnssec")
    keys = [f"257 13 {value}" for value in text_refused(max_length=0) if value.strip()
            and not value.isalpha()]
    keys += [f"{number} 13 {KEY}" for number in over(NUMBERS) if number.strip()]
    keys += [f"257 {number} {KEY}" for number in over(NUMBERS) if number.strip()]
    drive("admin:registration:dnssec", keys,
          lambda v: client.post(url, {"mode": "enable", "keys": v}),
          field="keys", requests=ops.requests)


@pytest.mark.parametrize(("name", "limit"), [("first_name", 100), ("last_name", 100),
                                             ("street_address", 255), ("city", 100)])
def test_holder_edit_text(client, ops, support_user, name, limit):
    client.force_login(support_user)
    url = op_url(ops.registration, "holder")
    drive(f"admin:registration:holder:{name}", text_refused(max_length=limit),
          lambda v: client.post(url, {"action_mode": "edit_current", name: v}),
          field=name, requests=ops.requests)


NEW_HOLDER = {"first_name": "Grace", "last_name": "Hopper", "country": "US",
              "email": "grace@example.com", "phone": "+1.2025550143"}


@pytest.mark.parametrize(("name", "values"), [("phone", PHONES), ("country", COUNTRIES),
                                              ("email", EMAILS)])
def test_holder_change_contact(client, ops, support_user, name, values):
    client.force_login(support_user)
    url = op_url(ops.registration, "holder")
    drive(f"admin:registration:holder_change:{name}", over(values),
          lambda v: client.post(url, {"action_mode": "change", **NEW_HOLDER, name: v}),
          field=name, requests=ops.requests)


@pytest.mark.parametrize(("name", "values"), [
    ("phone", PHONES), ("country", COUNTRIES), ("email", EMAILS),
    ("first_name", text_refused(max_length=100)), ("city", text_refused(max_length=100))])
def test_registrant_change_contact(client, ops, support_user, name, values):
    client.force_login(support_user)
    url = op_url(ops.registration, "registrant_change")
    drive(f"admin:registration:registrant_change:{name}", over(values),
          lambda v: client.post(url, {**NEW_HOLDER, "city": "Utrecht", name: v}),
          field=name, requests=ops.requests)


def _role_form(response):
    form = response.context and response.context.get("form")
    return getattr(form, "new_contact", None)


@pytest.mark.parametrize(("name", "values"), [
    ("phone", PHONES), ("country", COUNTRIES), ("first_name", text_refused(max_length=100))])
def test_role_contacts_new_contact(client, ops, support_user, name, values):
    client.force_login(support_user)
    url = op_url(ops.registration, "role_contacts")
    new = {f"new-{key}": value for key, value in NEW_HOLDER.items()}
    drive(f"admin:registration:role_contacts:{name}", over(values),
          lambda v: client.post(url, {"tech_source": "new", **new, f"new-{name}": v}),
          field=name, requests=ops.requests, form_of=_role_form)


def test_transfer_out_reason(client, ops, support_user):
    client.force_login(support_user)
    url = op_url(ops.registration, "transfer_out")
    drive("admin:registration:transfer_out:reason", text_refused(max_length=500,
                                                                 multiline=True),
          lambda v: client.post(url, {"decision": "reject", "reason": v}),
          field="reason", requests=ops.requests)


def test_push_transfer_recipient(client, ops, support_user):
    client.force_login(support_user)
    url = op_url(ops.registration, "push_transfer")
    values = [*text_refused(max_length=32), "REG IDS", "REG-IDS;DROP", "", "<b>REG</b>"]
    drive("admin:registration:push_transfer:recipient", values,
          lambda v: client.post(url, {"recipient": v}),
          field="recipient", requests=ops.requests)


@pytest.fixture
def flagged(ops, settings):
    """The customer asked for extra verification: the auth code needs a second person,
    and the page asks for the ticket and how the customer was verified."""
    settings.TWO_PERSON_OPERATIONS = ["auth_code_flagged", "push_transfer"]
    ops.registration.customer_flagged = True
    ops.registration.save(update_fields=["customer_flagged"])
    return ops


@pytest.mark.parametrize(("name", "limit", "multiline"), [("ticket", 64, False),
                                                          ("verification", 1000, True)])
def test_auth_code_clearance(client, flagged, support_user, name, limit, multiline):
    client.force_login(support_user)
    url = op_url(flagged.registration, "auth_code")
    valid = {"confirm": "on", "ticket": "SUP-1", "verification": "Called back."}
    drive(f"admin:registration:auth_code:{name}", text_refused(max_length=limit,
                                                               multiline=multiline),
          lambda v: client.post(url, {**valid, name: v}),
          field=name, requests=flagged.requests)
    assert not Approval.objects.exists()


def test_push_transfer_clearance(client, flagged, support_user):
    client.force_login(support_user)
    url = op_url(flagged.registration, "push_transfer")
    drive("admin:registration:push_transfer:verification",
          text_refused(max_length=1000, multiline=True),
          lambda v: client.post(url, {"recipient": "REG-IDS", "ticket": "SUP-1",
                                      "verification": v}),
          field="verification", requests=flagged.requests)
    assert not Approval.objects.exists()


def test_glue_host_create_name(client, ops, support_user):
    client.force_login(support_user)
    url = hosts_url(ops.registration)
    drive("admin:registration:hosts:host_name", over(NAMES),
          lambda v: client.post(url, {"host_name": v, "addresses": "192.0.2.50"}),
          field="host_name", requests=ops.requests)


def test_glue_host_create_addresses(client, ops, support_user):
    client.force_login(support_user)
    url = hosts_url(ops.registration)
    drive("admin:registration:hosts:addresses", over(ADDRESSES),
          lambda v: client.post(url, {"host_name": "ns9.admin-ops.com", "addresses": v}),
          field="addresses", requests=ops.requests)


def test_glue_host_update_addresses(client, ops, support_user):
    client.force_login(support_user)
    url = reverse("admin:registrar_registration_host_edit",
                  args=[ops.registration.pk, ops.host.host_name])
    drive("admin:registration:host_edit:addresses", over(ADDRESSES),
          lambda v: client.post(url, {"addresses": v}),
          field="addresses", requests=ops.requests)
    typed = "\n".join(ACCEPTED_ADDRESSES)
    response = client.post(url, {"addresses": typed})
    assert response.status_code == 302, response.context["form"].errors
    stored = set(HostAddress.objects.filter(host=ops.host).values_list("address", flat=True))
    assert stored == set(ACCEPTED_ADDRESSES.values())


def test_approval_decision_note(client, ops, admin_user_role):
    approval = ApprovalFactory(registration=ops.registration,
                               requested_by=UserFactory(username="asker"))
    client.force_login(admin_user_role)
    url = reverse("admin:registrar_approval_decide", args=[approval.pk])
    drive("admin:approval:decide:note", text_refused(max_length=1000, multiline=True),
          lambda v: client.post(url, {"decision": "decline", "note": v}),
          field="note", requests=ops.requests)
    approval.refresh_from_db()
    assert approval.status == ApprovalStatus.PENDING


@pytest.fixture
def entri_zone(db, monkeypatch):
    """alpha.com served by Entri (its DNS records page exists only there), mirrored."""
    from django.core.cache import cache

    from registrar.models import Registration
    from registrar.sync import sync_provider
    from tests.factories import ProviderAccountFactory
    from tests.fakes.entri import FakeEntri
    from tests.registrar.test_entri_mirror import APP_ID, LABEL, SECRET, WEB

    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_SELL", SECRET)
    account = ProviderAccountFactory(label=LABEL, kind="entri",
                                     base_url="https://api.goentri.com", account_ref=APP_ID,
                                     secret_env="PROVIDER_SECRET_ENTRI_SELL")
    fake = FakeEntri(application_id=APP_ID, secret=SECRET)
    fake.add_domain("alpha.com", dns_records=[WEB])
    cache.clear()  # Entri's JWT is shared through the cache
    with fake.serving(LABEL):
        sync_provider(account)
        fake.requests.clear()
        yield type("Zone", (), {"fake": fake,
                                "registration": Registration.objects.get(name="alpha.com")})
    cache.clear()


def _not_an_address(raw: str) -> bool:
    """A zone may point at any address, private ones included (glue may not): only what is
    no address at all is hostile in an A record."""
    from django.core.exceptions import ValidationError

    from registrar.values.addresses import parse_address

    try:
        parse_address(raw)
    except ValidationError:
        return True
    return False


# "example.c" is a valid CNAME target (only a TLD needs two letters).
DNS_CASES = [("CNAME", [name for name in over(NAMES) if name != "example.c"]),
             ("A", [address for address in over(ADDRESSES) if _not_an_address(address)])]


@pytest.mark.parametrize(("kind", "values"), DNS_CASES, ids=["CNAME", "A"])
def test_dns_records(client, entri_zone, support_user, kind, values):
    client.force_login(support_user)
    url = op_url(entri_zone.registration, "dns_records")
    host = "www" if kind == "CNAME" else "@"
    # The page reads the live zone (a GET naming alpha.com): what matters is the writes.
    drive(f"admin:registration:dns_records:{kind}", values,
          lambda v: client.post(url, {"records": f"{host} {kind} {v} 3600"}),
          field="records", requests=lambda: [r for r in entri_zone.fake.requests
                                             if r.method != "GET"])


# --- contacts -------------------------------------------------------------------------------

CONTACT = {"first_name": "Ada", "last_name": "Lovelace", "organization": "",
           "street_address": "12 Byron Road", "post_code": "1011AB", "city": "Amsterdam",
           "state": "", "country": "NL", "email": "ada@example.com", "phone": "+31.201234567",
           "extra_properties": "{}"}
CONTACT_CASES = [("first_name", text_refused(max_length=100)),
                 ("last_name", text_refused(max_length=100)),
                 ("organization", text_refused(max_length=255)),
                 ("street_address", text_refused(max_length=255)),
                 ("city", text_refused(max_length=100)),
                 ("phone", over(PHONES)), ("country", over(COUNTRIES)),
                 ("email", over(EMAILS))]


@pytest.mark.parametrize(("name", "values"), CONTACT_CASES, ids=[c[0] for c in CONTACT_CASES])
def test_contact_create(client, ops, support_user, name, values):
    client.force_login(support_user)
    url = reverse("admin:contacts_contact_add")
    base = {**CONTACT, "tld": ops.registration.tld.pk, "account": ops.registration.account.pk}
    drive(f"admin:contact:add:{name}", values,
          lambda v: client.post(url, {**base, name: v}), field=name, requests=ops.requests)


@pytest.mark.parametrize(("name", "values"), CONTACT_CASES, ids=[c[0] for c in CONTACT_CASES])
def test_contact_edit(client, ops, support_user, name, values):
    client.force_login(support_user)
    contact = ops.spare
    url = reverse("admin:contacts_contact_edit", args=[contact.pk])
    base = {key: getattr(contact, key) for key in CONTACT if key != "extra_properties"}
    base["extra_properties"] = "{}"
    drive(f"admin:contact:edit:{name}", values,
          lambda v: client.post(url, {**base, name: v}), field=name, requests=ops.requests)
    if name == "phone":
        for typed, canonical in ACCEPTED_PHONES.items():
            response = client.post(url, {**base, "phone": typed, "city": f"City {len(typed)}"})
            assert response.status_code == 302, response.context["form"].errors
            contact.refresh_from_db()
            assert contact.phone == canonical


# --- TLD, provider account and billing account admin ----------------------------------------

TLD = {"name": "shop", "provider_account": "", "authcode_behavior": "standard",
       "supports_privacy": "on", "supports_transfer_lock": "on", "supports_dnssec": "on",
       "privacy_fee_amount": "", "privacy_fee_currency": "",
       "registrant_change_fee_amount": "", "registrant_change_fee_currency": "",
       "cancellation_window_days": ""}


@pytest.mark.parametrize(("name", "values", "extra"), [
    ("name", over(TLD_NAMES), {}),
    ("privacy_fee_amount", over(AMOUNTS), {"privacy_fee_currency": "USD"}),
    ("registrant_change_fee_amount", over(AMOUNTS), {"registrant_change_fee_currency": "EUR"}),
    ("privacy_fee_currency", over(CURRENCIES), {"privacy_fee_amount": "499"}),
    ("registrant_change_fee_currency", over(CURRENCIES),
     {"registrant_change_fee_amount": "1200"}),
], ids=["name", "privacy_fee_amount", "registrant_change_fee_amount", "privacy_fee_currency",
        "registrant_change_fee_currency"])
def test_tld_add(client, sandbox, admin_user_role, name, values, extra):
    client.force_login(admin_user_role)
    url = reverse("admin:registrar_tld_add")
    drive(f"admin:tld:add:{name}", values,
          lambda v: client.post(url, {**TLD, **extra, name: v}),
          field=name, requests=lambda: sandbox.transport.requests)
    assert not Tld.objects.filter(name="shop").exists()


def test_tld_change_fee(client, sandbox, admin_user_role):
    tld = TldFactory(name="shop", provider_account=None)
    client.force_login(admin_user_role)
    url = reverse("admin:registrar_tld_change", args=[tld.pk])
    base = form_data(client.get(url))
    drive("admin:tld:change:privacy_fee_amount", over(AMOUNTS),
          lambda v: client.post(url, {**base, "privacy_fee_currency": "USD",
                                      "privacy_fee_amount": v}),
          field="privacy_fee_amount", requests=lambda: sandbox.transport.requests)
    tld.refresh_from_db()
    assert tld.privacy_fee_amount is None


PROVIDER = {"label": "new-registrar", "kind": "sandbox", "base_url": "https://api.registrar.example",
            "account_ref": "", "secret_env": "PROVIDER_SECRET_NEW", "timeout_seconds": "15",
            "enabled": "on", "options": "{}"}


@pytest.mark.parametrize(("name", "values"), [
    ("base_url", over(BASE_URLS)), ("label", text_refused(max_length=64)),
    ("account_ref", text_refused(max_length=128))])
def test_provider_account_add(client, sandbox, admin_user_role, name, values):
    client.force_login(admin_user_role)
    url = reverse("admin:registrar_provideraccount_add")
    drive(f"admin:provideraccount:add:{name}", values,
          lambda v: client.post(url, {**PROVIDER, name: v}),
          field=name, requests=lambda: sandbox.transport.requests)
    assert not ProviderAccount.objects.filter(label="new-registrar").exists()


@pytest.mark.parametrize(("name", "values"), [
    ("name", text_refused(max_length=200)), ("email", over(EMAILS)),
    ("customer_reference", text_refused(max_length=64))])
def test_billing_account_change(client, sandbox, admin_user_role, name, values):
    account = AccountFactory(name="Acme Corp", email="billing@acme.example")
    client.force_login(admin_user_role)
    url = reverse("admin:billing_account_change", args=[account.pk])
    base = form_data(client.get(url))
    drive(f"admin:account:change:{name}", values,
          lambda v: client.post(url, {**base, name: v}),
          field=name, requests=lambda: sandbox.transport.requests)


# --- the customer account's order and billing-link forms ------------------------------------


@pytest.fixture
def customer(db):
    return AccountFactory(name="Acme Corp", email="billing@acme.example",
                          customer_reference="ACC-ACME-1")


def _quote_url(customer) -> str:
    return reverse("admin:billing_account_domain_order", args=[customer.pk])


def test_domain_quote_domain(client, support_user, customer, namecom, domainee):  # noqa: F811
    TldFactory(name="com", provider_account=None)
    client.force_login(support_user)
    url = _quote_url(customer)
    account = ProviderAccount.objects.get(label=NAMECOM)
    base = {"provider_account": account.pk, "action": "register", "years": "1"}
    run = drive("admin:account:domain_order:domain", over(NAMES),
                lambda v: client.post(url, {**base, "domain": v}),
                field="domain", requests=lambda: namecom.requests + domainee.requests)
    assert run.counts["refusals"] == len(over(NAMES))
    assert not Order.objects.exists()
    # The homograph is refused and says why, on the domain field.
    refused = client.post(url, {**base, "domain": MIXED})
    assert any("mixes scripts" in message for message in refused.context["form"].errors["domain"])
    for typed, canonical in ACCEPTED_NAMES.items():
        response = client.post(url, {**base, "domain": typed})
        assert response.status_code == 302, (typed, response.context["form"].errors)
        assert Order.objects.order_by("-pk").first().domain == canonical


def test_domain_quote_lookalike_is_quoted_with_a_warning(client, support_user, customer,
                                                         namecom):  # noqa: F811
    client.force_login(support_user)
    account = ProviderAccount.objects.get(label=NAMECOM)
    response = client.post(_quote_url(customer), {
        "provider_account": account.pk, "action": "register", "years": "1",
        "domain": LOOKALIKE}, follow=True)
    assert response.status_code == 200
    order = Order.objects.get()
    text = html.unescape(response.content.decode())
    assert response.redirect_chain[-1][0].endswith(f"/domain-order/{order.pk}/")
    assert "looks like a Latin name" in text


def test_domain_quote_ceiling(client, support_user, customer, domainee, namecom):  # noqa: F811
    client.force_login(support_user)
    url = _quote_url(customer)
    account = ProviderAccount.objects.get(label=DOMAINEE)
    base = {"provider_account": account.pk, "action": "register", "years": "1",
            "domain": "acme-bakery.com"}
    drive("admin:account:domain_order:ceiling", over(AMOUNTS),
          lambda v: client.post(url, {**base, "ceiling": v}),
          field="ceiling", requests=lambda: domainee.requests + namecom.requests)
    assert not Order.objects.exists()


#: What no browser sends for a checkbox: refused, never read as ticked.
CHECKBOX_REFUSED = ["yes", "on ", "2", "<script>alert(1)</script>", "\u202eon", "tru\u0000e",
                    "x" * 300]


def test_domain_confirm_origin_url(client, support_user, customer, domainee):  # noqa: F811
    from billing import ordering

    owner = ContactFactory(account=customer, handle="ACME-OWNER", first_name="Jane",
                           last_name="Smith", organization="", email="jane@bakery.example",
                           phone="+1.5035550100", street_address="123 Main St",
                           city="Portland", state="OR", post_code="97201", country="US")
    order = ordering.order_quote(ordering.OrderRequest(
        account=customer, provider_account=ProviderAccount.objects.get(label=DOMAINEE),
        action="register", domain="janesbakery.com", owner=owner,
        ceiling=ordering.Money(2000, "USD")), actor=support_user).data["order"]
    client.force_login(support_user)
    url = reverse("admin:billing_account_domain_order_confirm", args=[customer.pk, order.pk])
    values = [*text_refused(max_length=500),
              *over(["http://janesbakery.acmesites.app", "javascript:alert(1)", "https://",
                     "ftp://janesbakery.acmesites.app", "//janesbakery.acmesites.app",
                     "https://exa mple.app"])]
    drive("admin:account:domain_order_confirm:origin_url", values,
          lambda v: client.post(url, {"auto_connect": "on", "origin_url": v}),
          field="origin_url", requests=lambda: domainee.requests)
    order.refresh_from_db()
    assert order.status == "quoted" and "auto_connect" not in order.quote


def test_domain_confirm_auth_code_of_an_entri_transfer(client, support_user, customer,
                                                       monkeypatch):
    """The authorization code typed once on the confirm page of an Entri transfer in
    (document 000, POST /domains/{domain}/transfers/in): what is no code is refused on
    the field, and no transfer is sent."""
    from django.core.cache import cache

    from billing import ordering
    from tests.factories import ProviderAccountFactory
    from tests.fakes.entri import FakeEntri

    monkeypatch.setenv("PROVIDER_SECRET_ENTRI_CONFIRM", "entri-secret-confirm")
    account = ProviderAccountFactory(label="entri-confirm", kind="entri",
                                     base_url="https://api.goentri.com", account_ref="app-c",
                                     secret_env="PROVIDER_SECRET_ENTRI_CONFIRM")
    owner = ContactFactory(account=customer, handle="ACME-OWNER", first_name="Jane",
                           last_name="Smith", organization="", email="jane@bakery.example",
                           phone="+1.5035550100", street_address="123 Main St",
                           city="Portland", state="OR", post_code="97201", country="US")
    fake = FakeEntri(application_id="app-c", secret="entri-secret-confirm")
    fake.set_availability("janesbakery.com", "UNAVAILABLE")
    cache.clear()
    with fake.serving("entri-confirm"):
        order = ordering.order_quote(ordering.OrderRequest(
            account=customer, provider_account=account, action="transfer",
            domain="janesbakery.com", owner=owner), actor=support_user).data["order"]
        client.force_login(support_user)
        url = reverse("admin:billing_account_domain_order_confirm",
                      args=[customer.pk, order.pk])
        drive("admin:account:domain_order_confirm:auth_code",
              [value for value in text_refused(max_length=255) if value.strip()],
              lambda v: client.post(url, {"auth_code": v}), field="auth_code",
              requests=lambda: fake.sent("POST", suffix="/transfers/in"))
    cache.clear()
    order.refresh_from_db()
    assert order.status == "quoted" and fake.transfers == []


def _email_url(customer) -> str:
    return reverse("admin:billing_account_email_order", args=[customer.pk])


@pytest.mark.parametrize(("name", "values"), [
    ("domains", over(NAMES)), ("redirect_url", [name for name in over(NAMES) if name.strip()]),
    ("first_name", text_refused(max_length=200)), ("street_address", text_refused(max_length=400)),
    ("city", text_refused(max_length=200)), ("phone", over(PHONES)),
    ("country", over(COUNTRIES)),
    # The two order flags: a box is ticked ("on") or absent; anything else is refused.
    ("is_free_order", CHECKBOX_REFUSED), ("is_replacement", CHECKBOX_REFUSED),
    # The helpers' fields are checked on every POST, the order's too.
    ("search", text_refused(max_length=253)),
    ("mailbox_count", ["0", "11", "-1", "1.5", "1e1", "x", "\u0661", "<script>", "9" * 30])])
def test_email_order(client, support_user, customer, saleshandy, name, values):  # noqa: F811
    client.force_login(support_user)
    url = _email_url(customer)
    account = ProviderAccount.objects.get(kind="saleshandy")
    base = {**EMAIL_FORM, "provider_account": str(account.pk)}

    def send(value: str):
        if name == "domains":
            return client.post(url, {**base, "domains": f"{value}: john"})
        return client.post(url, {**base, name: value})

    drive(f"admin:account:email_order:{name}", values, send, field=name,
          requests=lambda: saleshandy.requests)
    assert not Order.objects.exists()


def test_billing_link_return_url(client, finance_user, customer, entri):  # noqa: F811
    client.force_login(finance_user)
    url = reverse("admin:billing_account_billing_link", args=[customer.pk])
    account = ProviderAccount.objects.get(kind="entri")
    drive("admin:account:billing_link:return_url", over(RETURN_URLS),
          lambda v: client.post(url, {"provider_account": str(account.pk), "return_url": v}),
          field="return_url", requests=lambda: entri.requests)
    assert RETURN_URL  # the valid one, used by the billing-link tests
