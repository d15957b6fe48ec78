# ruff: noqa: F811 (the fixtures imported from the service tests are parameters here)
"""`manage.py order quote|confirm|email|list|show|follow`: the admin's order pages from a
shell, through the same forms and services.

Only the HTTP boundary is fake: the sandbox (document 001) for the Domain API, FakeNamecom
(004) for a transfer and its auth code, FakeSaleshandy (003) for email infrastructure.
Each test asserts the request that left (or that none did), the orders, ledger entries and
audit rows left behind, what was printed and the exit status.
"""

from __future__ import annotations

import json
import logging
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from backoffice.models import StaffAction
from billing.models import LedgerEntry, Order, OrderKind, OrderStatus
from tests.billing.test_billing_links import entri  # noqa: F401
from tests.billing.test_email_orders import API_KEY, saleshandy  # noqa: F401
from tests.billing.test_email_orders import LABEL as SALESHANDY
from tests.billing.test_ordering import (  # noqa: F401
    AUTH_CODE,
    AVAILABILITY,
    DOMAINEE,
    NAMECOM,
    ORDERS,
    PURCHASES,
    customer,
    database_dump,
    domain_api,
    domainee,
    namecom,
    registrant,
)
from tests.factories import (
    AccountFactory,
    LedgerEntryFactory,
    OrderFactory,
    OrderItemFactory,
    ProviderAccountFactory,
)
from tests.fakes.namecom import CHECK, TRANSFER
from tests.fakes.saleshandy import DOC_BODY

EMAIL_ARGS = ["--first-name", "John", "--last-name", "Smith", "--organization", "Acme Corp",
              "--street-address", "123 Market Street", "--city", "San Francisco",
              "--state", "CA", "--post-code", "94105", "--country", "US",
              "--phone", "+14155551234", "--email-service-provider", "Google",
              "--plan-type", "quarterly", "--redirect-url", "acmecorp.com",
              "--domain", "tryoutreachteam.com: john"]


def run(*argv: str, stdin: str | None = None) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    extra: dict[str, Any] = {} if stdin is None else {"stdin": StringIO(stdin)}
    call_command("order", *argv, stdout=out, stderr=err, **extra)
    return out.getvalue(), err.getvalue()


def refused(*argv: str, stdin: str | None = None) -> str:
    with pytest.raises(CommandError) as caught:
        run(*argv, stdin=stdin)
    return str(caught.value)


def calls(transport) -> list[tuple[str, str]]:
    return [(r.method, r.url.path) for r in transport.requests]


def quote_api(domain_api, *extra: str) -> Order:
    out, _ = run("quote", "ACC-ACME-1", "acme-bakery-shop.com", "--action", "register",
                 "--years", "2", "--owner", str(domain_api.owner.pk), "--account-label",
                 "sandbox", "--as", "support-test", *extra)
    order = Order.objects.get()
    assert f"Quote {order.pk}:" in out or f'"quote_id": {order.pk}' in out
    return order


# --- quote ------------------------------------------------------------------------------


def test_quote_asks_the_upstream_and_keeps_a_quoted_order(support_user, domain_api):
    out, _ = run("quote", "ACC-ACME-1", "acme-bakery-shop.com", "--action", "register",
                 "--years", "2", "--owner", str(domain_api.owner.pk), "--account-label",
                 "sandbox", "--as", "support-test")

    order = Order.objects.get()
    # The availability check only: nothing that costs money.
    assert calls(domain_api.transport) == [("POST", AVAILABILITY)]
    assert (order.status, order.kind, order.years) == (OrderStatus.QUOTED,
                                                       OrderKind.REGISTRATION, 2)
    assert order.placed_by == support_user and order.account.customer_reference == "ACC-ACME-1"
    assert f"Quote {order.pk}: Registration of acme-bakery-shop.com for 2 years: 25.98 USD" in out
    assert order.quote_expires_at.isoformat(timespec="seconds") in out
    assert StaffAction.objects.count() == 0 and LedgerEntry.objects.count() == 0


def test_quote_as_json_gives_the_id_price_and_expiry(support_user, domain_api):
    out, _ = run("quote", "ACC-ACME-1", "acme-bakery-shop.com", "--action", "register",
                 "--owner", str(domain_api.owner.pk), "--as", "support-test",
                 "--format", "json")
    order = Order.objects.get()
    shown = json.loads(out)
    assert shown["quote_id"] == order.pk
    assert (shown["price"], shown["quoted_total_minor"], shown["currency"]) == (
        "12.99 USD", 1299, "USD")
    assert shown["expires_at"] == order.quote_expires_at.isoformat(timespec="seconds")


def test_quote_dry_run_sends_and_keeps_nothing(support_user, domain_api):
    out, _ = run("quote", "ACC-ACME-1", "acme-bakery-shop.com", "--action", "register",
                 "--owner", str(domain_api.owner.pk), "--as", "support-test", "--dry-run")
    assert "Dry run" in out and "Nothing was sent" in out
    assert domain_api.transport.requests == [] and Order.objects.count() == 0


@pytest.mark.parametrize(("argv", "named"), [
    (["ACC-ACME-1", "exa mple.com", "--action", "register"], "NAME"),
    (["ACC-NOBODY", "acme-bakery-shop.com", "--action", "register"], "ACCOUNT_REF"),
    (["ACC-ACME-1", "acme-bakery-shop.com", "--action", "register", "--account-label",
      "nowhere"], "--account-label"),
    (["ACC-ACME-1", "acme-bakery-shop.com", "--action", "register", "--owner", "999999"],
     "--owner"),
    (["ACC-ACME-1", "acme-bakery-shop.com", "--action", "register", "--ceiling", "1e9"],
     "--ceiling"),
    (["ACC-ACME-1", "acme-bakery-shop.com", "--action", "register", "--years", "11"],
     "--years"),
    # The Domain API needs the registrant: the service's own rule, named as the option.
    (["ACC-ACME-1", "acme-bakery-shop.com", "--action", "register"], "--owner"),
])
def test_bad_quote_input_names_the_option_and_sends_nothing(support_user, domain_api, argv,
                                                            named):
    message = refused("quote", *argv, "--as", "support-test")
    assert named in message
    assert domain_api.transport.requests == [] and Order.objects.count() == 0
    assert StaffAction.objects.count() == 0


def test_quote_needs_the_place_order_permission(finance_user, domain_api):
    message = refused("quote", "ACC-ACME-1", "acme-bakery-shop.com", "--action", "register",
                      "--owner", str(domain_api.owner.pk), "--as", "finance-test")
    assert "billing.place_order" in message
    assert domain_api.transport.requests == [] and Order.objects.count() == 0


# --- confirm ----------------------------------------------------------------------------


def test_confirm_places_the_quote_once_with_its_key(support_user, domain_api):
    order = quote_api(domain_api)
    domain_api.transport.requests.clear()

    out, _ = run("confirm", str(order.pk), "--as", "support-test")

    # Re-checked right before placing, then placed with the local order's key.
    assert calls(domain_api.transport) == [("POST", AVAILABILITY), ("POST", ORDERS)]
    sent = domain_api.transport.sent("POST", ORDERS)[0]
    assert sent.headers["Idempotency-Key"] == f"backoffice-order-{order.pk}"
    assert json.loads(sent.content)["max_total"] == {"amount_cents": 2598, "currency": "USD"}
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTRATION_IN_PROGRESS and order.upstream_id
    assert [e.amount_minor for e in order.ledger_entries.all()] == [2598]
    (row,) = StaffAction.objects.all()
    assert (row.action, row.actor, row.outcome) == ("order.place_domain", support_user,
                                                    StaffAction.Outcome.PENDING)
    assert f"Order {order.pk}: pending" in out and "The registrar is working on it" in out

    # A replay sends nothing and says so.
    domain_api.transport.requests.clear()
    again, _ = run("confirm", str(order.pk), "--as", "support-test")
    assert domain_api.transport.requests == [] and "Nothing was sent again" in again
    assert StaffAction.objects.count() == 1


def test_confirm_dry_run_sends_nothing_and_changes_nothing(support_user, domain_api):
    order = quote_api(domain_api)
    domain_api.transport.requests.clear()

    out, _ = run("confirm", str(order.pk), "--as", "support-test", "--dry-run")

    assert domain_api.transport.requests == []
    assert f"would place order {order.pk} at sandbox" in out
    assert "25.98 USD" in out and f"backoffice-order-{order.pk}" in out
    assert "Nothing was sent" in out
    order.refresh_from_db()
    assert (order.status, order.idempotency_key) == (OrderStatus.QUOTED, None)
    assert StaffAction.objects.count() == 0 and LedgerEntry.objects.count() == 0


def test_confirm_of_an_unknown_or_expired_quote_is_refused(support_user, domain_api):
    assert "QUOTE_ID: no domain order 424242" in refused("confirm", "424242", "--as",
                                                         "support-test")
    order = quote_api(domain_api)
    Order.objects.filter(pk=order.pk).update(quote_expires_at=order.placed_at)
    domain_api.transport.requests.clear()
    assert "expired" in refused("confirm", str(order.pk), "--as", "support-test",
                                "--dry-run")
    assert "expired" in refused("confirm", str(order.pk), "--as", "support-test")
    assert domain_api.transport.requests == []
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED  # as the page leaves it


def test_confirm_needs_the_place_order_permission(support_user, finance_user, domain_api):
    order = quote_api(domain_api)
    domain_api.transport.requests.clear()
    assert "billing.place_order" in refused("confirm", str(order.pk), "--as", "finance-test")
    assert domain_api.transport.requests == []
    assert Order.objects.get().status == OrderStatus.QUOTED


# --- a transfer's auth code -------------------------------------------------------------


def _transfer_quote(namecom) -> Order:
    namecom.register_elsewhere("acme-bakery.com")
    run("quote", "ACC-ACME-1", "acme-bakery.com", "--action", "transfer", "--account-label",
        NAMECOM, "--as", "support-test")
    namecom.requests.clear()
    return Order.objects.get()


def test_the_auth_code_is_read_from_stdin_sent_once_and_kept_nowhere(
        support_user, customer, namecom, caplog):
    caplog.set_level(logging.DEBUG)
    order = _transfer_quote(namecom)

    out, err = run("confirm", str(order.pk), "--auth-code-stdin", "--as", "support-test",
                   stdin=f"{AUTH_CODE}\n")

    (sent,) = namecom.sent("POST", TRANSFER)
    assert json.loads(sent.content) == {"domainName": "acme-bakery.com", "authCode": AUTH_CODE}
    order.refresh_from_db()
    assert order.status == OrderStatus.TRANSFER_STARTED
    assert AUTH_CODE not in out + err
    assert AUTH_CODE not in caplog.text
    assert AUTH_CODE not in database_dump()
    for row in StaffAction.objects.all():
        assert AUTH_CODE not in json.dumps(row.parameters) + row.message


def test_a_transfer_without_its_code_is_refused_with_nothing_sent(support_user, customer,
                                                                  namecom):
    order = _transfer_quote(namecom)
    message = refused("confirm", str(order.pk), "--as", "support-test")
    assert "--auth-code-stdin" in message
    # An empty stdin is no code either.
    assert "--auth-code-stdin" in refused("confirm", str(order.pk), "--auth-code-stdin",
                                          "--as", "support-test", stdin="\n")
    assert namecom.requests == [] and Order.objects.get().status == OrderStatus.QUOTED
    assert StaffAction.objects.count() == 0


def test_a_hostile_auth_code_is_refused_without_being_echoed(support_user, customer,
                                                             namecom):
    order = _transfer_quote(namecom)
    for code in ("EPP\u202eevil", "x" * 300):
        message = refused("confirm", str(order.pk), "--auth-code-stdin", "--as",
                          "support-test", stdin=code)
        assert message.startswith("--auth-code-stdin") and code not in message
    assert namecom.requests == [] and StaffAction.objects.count() == 0


def test_a_transfer_dry_run_sends_nothing_and_never_shows_the_code(support_user, customer,
                                                                   namecom):
    order = _transfer_quote(namecom)
    out, err = run("confirm", str(order.pk), "--auth-code-stdin", "--dry-run", "--as",
                   "support-test", stdin=AUTH_CODE)
    assert "with the authorization code from stdin" in out
    assert AUTH_CODE not in out + err
    assert namecom.requests == [] and Order.objects.get().status == OrderStatus.QUOTED


def test_a_code_for_an_order_that_takes_none_is_refused(support_user, customer,
                                                        namecom):
    run("quote", "ACC-ACME-1", "acme-bakery.com", "--action", "register", "--account-label",
        NAMECOM, "--as", "support-test")
    namecom.requests.clear()
    order = Order.objects.get()
    message = refused("confirm", str(order.pk), "--auth-code-stdin", "--as", "support-test",
                      stdin=AUTH_CODE)
    assert "--auth-code-stdin" in message and AUTH_CODE not in message
    assert namecom.requests == []


def test_a_name_com_registration_is_quoted_and_placed(support_user, customer,
                                                      namecom):
    run("quote", "ACC-ACME-1", "acme-bakery.com", "--action", "register", "--years", "2",
        "--account-label", NAMECOM, "--as", "support-test")
    order = Order.objects.get()
    out, _ = run("confirm", str(order.pk), "--as", "support-test")
    assert [path for _, path in calls(namecom)][-1].endswith("/domains")
    assert calls(namecom)[0] == ("POST", CHECK)
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED and "placed at name.com" in out


# --- email infrastructure -----------------------------------------------------------------


@pytest.fixture
def email_customer(db):
    return AccountFactory(name="Acme Corp", customer_reference="ACC-ACME-1")


def test_email_places_the_documented_order(support_user, saleshandy,
                                           email_customer):
    out, _ = run("email", "ACC-ACME-1", *EMAIL_ARGS, "--as", "support-test")

    (sent,) = saleshandy.requests
    assert (sent.method, sent.url.path) == ("POST", "/v1/domain")
    assert sent.headers["x-api-key"] == API_KEY
    assert json.loads(sent.content) == DOC_BODY
    order = Order.objects.get()
    assert order.kind == OrderKind.EMAIL_INFRASTRUCTURE and order.account == email_customer
    assert order.items.count() == 1
    (row,) = StaffAction.objects.all()
    assert (row.action, row.actor) == ("order.place_email_infrastructure", support_user)
    (taken,) = saleshandy.orders.values()
    # Support may hand out billing links: the checkout link is printed, once.
    assert out.count(taken.checkout_url) == 1
    assert taken.checkout_url not in json.dumps(row.parameters)


def test_email_dry_run_sends_and_keeps_nothing(support_user, saleshandy,
                                               email_customer):
    out, _ = run("email", "ACC-ACME-1", *EMAIL_ARGS, "--as", "support-test", "--dry-run")
    assert "1 mailbox(es) on tryoutreachteam.com" in out and "Nothing was sent" in out
    assert saleshandy.requests == [] and Order.objects.count() == 0
    assert StaffAction.objects.count() == 0


@pytest.mark.parametrize(("change", "named"), [
    (("--domain", "tryoutreachteam.com"), "--domain"),
    (("--country", "XX"), "--country"),
    (("--redirect-url", "https://acmecorp.com/path"), "--redirect-url"),
    (("--email-service-provider", "Nobody"), "--email-service-provider"),
    (("--account-label", "nowhere"), "--account-label"),
])
def test_bad_email_input_names_the_option_and_sends_nothing(
        support_user, saleshandy, email_customer, change, named):
    args = list(EMAIL_ARGS)
    option, value = change
    if option in args:
        args[args.index(option) + 1] = value
    else:
        args += [option, value]
    message = refused("email", "ACC-ACME-1", *args, "--as", "support-test")
    assert named in message, message
    assert saleshandy.requests == [] and Order.objects.count() == 0
    assert StaffAction.objects.count() == 0


def test_email_reads_domain_lines_from_a_file(support_user, saleshandy,
                                              email_customer, tmp_path):
    path = tmp_path / "domains.txt"
    path.write_text("# the customer's list\ntryoutreachteam.com: john\n", encoding="utf-8")
    args = [*EMAIL_ARGS[:-2], "--file", str(path)]
    run("email", "ACC-ACME-1", *args, "--as", "support-test", "--dry-run")
    assert saleshandy.requests == []
    assert "--file" in refused("email", "ACC-ACME-1", *EMAIL_ARGS[:-2], "--file",
                               str(tmp_path / "missing.txt"), "--as", "support-test")


# --- list, show -----------------------------------------------------------------------------


@pytest.fixture
def orders(db):
    acme = AccountFactory(customer_reference="ACC-ACME-1")
    other = AccountFactory(customer_reference="ACC-OTHER")
    placed = OrderFactory(account=acme, customer_reference="ACC-ACME-1",
                          domain="acme-one.com", status=OrderStatus.REGISTERED)
    OrderItemFactory(order=placed, description="Registration, 1 year", domain="acme-one.com")
    LedgerEntryFactory(order=placed, kind=LedgerEntry.Kind.PAYMENT, amount_minor=1399,
                       currency="USD", state=LedgerEntry.State.SUCCEEDED,
                       external_reference="pay-1")
    failed = OrderFactory(account=acme, customer_reference="ACC-ACME-1",
                          domain="acme-two.com", status=OrderStatus.FAILED)
    theirs = OrderFactory(account=other, customer_reference="ACC-OTHER",
                          domain="other.com", status=OrderStatus.REGISTERED)
    return placed, failed, theirs


def test_list_filters_by_account_and_status(support_user, orders):
    out, _ = run("list", "--account", "ACC-ACME-1", "--as", "support-test")
    assert "acme-one.com" in out and "acme-two.com" in out and "other.com" not in out
    assert "2 order(s)." in out

    out, err = run("list", "--status", "registered", "--format", "json", "--as",
                   "support-test")
    assert {row["domain"] for row in json.loads(out)} == {"acme-one.com", "other.com"}
    assert err.strip() == "2 order(s)."

    out, _ = run("list", "--status", "failed,registered", "--account", "ACC-OTHER",
                 "--format", "csv", "--as", "support-test")
    lines = out.splitlines()
    assert lines[0].startswith("id,placed_at,kind,status,domain")
    assert len(lines) == 2 and "other.com" in lines[1]


def test_list_by_placing_day(support_user, orders):
    placed = orders[0]
    day = placed.placed_at.date().isoformat()
    out, _ = run("list", "--since", day, "--until", day, "--as", "support-test")
    assert "3 order(s)." in out
    out, _ = run("list", "--since", "2020-01-01", "--until", "2020-01-31", "--as",
                 "support-test")
    assert "0 order(s)." in out


@pytest.mark.parametrize(("argv", "named"), [
    (["--status", "paid"], "--status"),
    (["--since", "2026-1-1"], "--since"),
    (["--since", "2026-02-01", "--until", "2026-01-01"], "--since"),
    (["--account", "ACC-NOBODY"], "--account"),
    (["--limit", "0"], "--limit"),
])
def test_bad_list_filters_name_the_option(support_user, orders, argv, named):
    assert named in refused("list", *argv, "--as", "support-test")


def test_the_attention_list_is_finance_s(support_user, finance_user, orders):
    failed = orders[1]
    # Failed with money taken and nothing given back: needs attention.
    LedgerEntryFactory(order=failed, kind=LedgerEntry.Kind.PAYMENT, amount_minor=1399,
                       currency="USD", state=LedgerEntry.State.SUCCEEDED)
    assert "--attention" in refused("list", "--attention", "--as", "support-test")
    out, _ = run("list", "--attention", "--as", "finance-test")
    assert "acme-two.com" in out and "acme-one.com" not in out


def test_show_gives_items_and_the_ledger_to_those_who_may_see_it(support_user, finance_user,
                                                                  orders):
    placed, _, _ = orders
    out, _ = run("show", str(placed.pk), "--as", "finance-test")
    assert "acme-one.com" in out and "Registration, 1 year" in out
    assert "Ledger (1):" in out and "pay-1" in out and "13.99 USD" in out

    shown = json.loads(run("show", str(placed.pk), "--format", "json", "--as",
                           "finance-test")[0])
    assert shown["items"][0]["description"] == "Registration, 1 year"
    assert shown["ledger"][0]["amount"] == "13.99 USD"

    support, _ = run("show", str(placed.pk), "--as", "support-test")
    assert "Ledger: not shown" in support and "pay-1" not in support
    csv_out, _ = run("show", str(placed.pk), "--format", "csv", "--as", "support-test")
    assert csv_out.startswith("record,field,value") and "item 1,description" in csv_out
    assert "ID: no order 424242" in refused("show", "424242", "--as", "support-test")


def test_reading_needs_the_view_permission(plain_staff_user, orders):
    assert "billing.view_order" in refused("list", "--as", "staff-test")
    assert "billing.view_order" in refused("show", str(orders[0].pk), "--as", "staff-test")


# --- follow ---------------------------------------------------------------------------------


def test_follow_reads_the_order_at_its_upstream_and_shows_old_and_new(support_user,
                                                                       domain_api):
    order = quote_api(domain_api)
    run("confirm", str(order.pk), "--as", "support-test")
    order.refresh_from_db()
    domain_api.transport.requests.clear()

    seen = []
    for _ in range(5):
        out, _ = run("follow", str(order.pk), "--as", "support-test")
        seen.append(out.strip())
        if "->" in out:
            break

    assert domain_api.transport.sent("GET", f"/api/orders/{order.upstream_id}")
    assert domain_api.transport.mutations == []  # reading only
    assert seen[-1] == f"Order {order.pk}: Registration in progress -> Registered."
    assert Order.objects.get().status == OrderStatus.REGISTERED
    # Ended: nothing more is read.
    domain_api.transport.requests.clear()
    out, _ = run("follow", str(order.pk), "--as", "support-test")
    assert "ended; nothing was read" in out and domain_api.transport.requests == []


def test_follow_refuses_what_cannot_be_followed(support_user, domain_api):
    order = quote_api(domain_api)
    domain_api.transport.requests.clear()
    assert "never placed" in refused("follow", str(order.pk), "--as", "support-test")
    namecom_order = OrderFactory(
        provider_account=ProviderAccountFactory(label="namecom-x", kind="namecom"),
        status=OrderStatus.TRANSFER_STARTED, upstream_id="77")
    assert "gives no way to read" in refused("follow", str(namecom_order.pk), "--as",
                                             "support-test")
    assert domain_api.transport.requests == []


def test_follow_of_a_saleshandy_order_reads_its_listing(support_user, saleshandy,
                                                        email_customer):
    run("email", "ACC-ACME-1", *EMAIL_ARGS, "--as", "support-test")
    order = Order.objects.get()
    saleshandy.requests.clear()
    out, _ = run("follow", str(order.pk), "--as", "support-test")
    assert saleshandy.requests and all(r.method == "GET" for r in saleshandy.requests)
    assert out.startswith(f"Order {order.pk}: ")


def test_the_saleshandy_label_is_the_one_placed_with(saleshandy, email_customer,
                                                     support_user):
    run("email", "ACC-ACME-1", *EMAIL_ARGS, "--account-label", SALESHANDY, "--as",
        "support-test", "--dry-run")
    assert saleshandy.requests == []


def test_follow_of_an_entri_order_reads_get_orders_id(support_user, entri):
    from tests.billing.test_billing_links import ENTRI

    record = entri.add_order(None, "registration_in_progress", "acme-entri.com")
    order = OrderFactory(provider_account=ProviderAccountFactory(label=ENTRI),
                         status=OrderStatus.REGISTRATION_IN_PROGRESS,
                         upstream_id=record["orderId"], domain="acme-entri.com")
    entri.set_order_status(record["orderId"], "registered")

    out, _ = run("follow", str(order.pk), "--as", "support-test")

    assert entri.sent("GET", suffix=f"/orders/{record['orderId']}")
    assert [r.method for r in entri.api_requests] == ["GET"]
    assert out.strip() == f"Order {order.pk}: Registration in progress -> Registered."
    order.refresh_from_db()
    assert order.status == OrderStatus.REGISTERED


def test_a_domainee_purchase_carries_the_ceiling_and_the_local_key(support_user, customer,
                                                                   domainee, registrant):
    out, _ = run("quote", "ACC-ACME-1", "JanesBakery.com", "--action", "register",
                 "--owner", str(registrant.pk), "--ceiling", "20.00", "--account-label",
                 DOMAINEE, "--as", "support-test")
    order = Order.objects.get()
    assert domainee.requests == [] and order.quoted_total_minor == 2000
    assert "20.00 USD" in out
    # Domainee quotes no price: without the most the customer pays, nothing is quoted.
    assert "--ceiling" in refused("quote", "ACC-ACME-1", "other-bakery.com", "--action",
                                  "register", "--owner", str(registrant.pk),
                                  "--account-label", DOMAINEE, "--as", "support-test")

    run("confirm", str(order.pk), "--as", "support-test")

    (sent,) = domainee.sent("POST", PURCHASES)
    assert sent.headers["Idempotency-Key"] == f"backoffice-order-{order.pk}"
    body = json.loads(sent.content)
    assert (body["hostname"], body["maxTotalCents"], body["customerReference"]) == (
        "janesbakery.com", 2000, "ACC-ACME-1")
    order.refresh_from_db()
    assert (order.status, order.total_minor) == (OrderStatus.REGISTERED, 1518)
    assert [e.amount_minor for e in order.ledger_entries.all()] == [1518]
