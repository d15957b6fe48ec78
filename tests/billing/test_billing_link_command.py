# ruff: noqa: F811 (the fixtures imported from the service tests are parameters here)
"""`manage.py billing_link ACCOUNT_REF --as USERNAME [--return-url URL]`: the admin's
billing-portal link page from a shell. The link is printed once, alone, on stdout; the
audit row masks its token like the page's; nothing else keeps it.

Only the HTTP boundary is fake: FakeEntri (document 000's `GET /billing/link`).
"""

from __future__ import annotations

import json
import logging
from io import StringIO

import httpx
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from backoffice.models import StaffAction
from billing import portal
from registrar.models import ProviderAccount
from tests.billing.test_billing_links import (  # noqa: F401
    ENTRI,
    ENTRI_URL,
    LINK_PATH,
    PORTAL_LINK,
    RETURN_URL,
    SECRET,
    TOKEN,
    customer,
    database_dump,
    entri,
)
from tests.factories import ProviderAccountFactory
from tests.fakes.http import fail_with, respond


def run(*argv: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("billing_link", *argv, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def refused(*argv: str) -> str:
    with pytest.raises(CommandError) as caught:
        run(*argv)
    return str(caught.value)


def test_the_link_is_printed_once_and_audited_masked(entri, customer,
                                                     support_user, caplog):
    with caplog.at_level(logging.DEBUG):
        out, err = run("ACC-ACME-1", "--as", "support-test", "--return-url", RETURN_URL)

    [sent] = entri.sent("GET", LINK_PATH)
    assert dict(sent.url.params) == {"email": "billing@acme.example", "returnUrl": RETURN_URL}
    # The link alone on stdout, once; the sentence about it on stderr, without it.
    assert out == f"{PORTAL_LINK}\n"
    assert TOKEN not in err and "not kept here" in err
    row = StaffAction.objects.get()
    assert (row.action, row.outcome, row.actor) == (
        portal.BILLING_LINK_ACTION, StaffAction.Outcome.SUCCEEDED, support_user)
    assert row.target_id == str(customer.pk)
    assert TOKEN not in json.dumps(row.parameters) and TOKEN not in row.message
    assert row.parameters["portal_url"].startswith("https://billing.stripe.com/")
    assert TOKEN not in database_dump()
    assert TOKEN not in caplog.text


def test_without_a_return_url_the_configured_one_is_sent(entri, customer,
                                                         finance_user):
    run("ACC-ACME-1", "--as", "finance-test")
    [sent] = entri.sent("GET", LINK_PATH)
    assert sent.url.params["returnUrl"] == settings.BILLING_PORTAL_RETURN_URL


@pytest.mark.parametrize("return_url", [
    "http://www.acme.example/back", "not a url", "javascript:alert(1)", "",
    "https://10.0.0.5/", "https://localhost/back"])
def test_a_bad_return_url_names_the_option_and_sends_nothing(entri, customer,
                                                             support_user, return_url):
    message = refused("ACC-ACME-1", "--as", "support-test", "--return-url", return_url)
    assert "--return-url" in message and "No link was generated" in message
    assert entri.requests == [] and StaffAction.objects.count() == 0


def test_an_unknown_customer_or_provider_account_is_refused(entri, customer,
                                                            support_user):
    assert "ACCOUNT_REF" in refused("ACC-NOBODY", "--as", "support-test")
    assert "--account-label" in refused("ACC-ACME-1", "--as", "support-test",
                                        "--account-label", "nowhere")
    # An account that cannot mint links is refused by the form, as on the page.
    ProviderAccountFactory(label="sandbox")
    assert "--account-label" in refused("ACC-ACME-1", "--as", "support-test",
                                        "--account-label", "sandbox")
    assert entri.requests == [] and StaffAction.objects.count() == 0


def test_several_portals_need_the_label(entri, customer, support_user):
    ProviderAccount.objects.create(label="entri-two", kind="entri", base_url=ENTRI_URL,
                                   account_ref="acme-backoffice",
                                   secret_env="PROVIDER_SECRET_ENTRI_TEST")
    message = refused("ACC-ACME-1", "--as", "support-test")
    assert "--account-label" in message and ENTRI in message and "entri-two" in message
    out, _ = run("ACC-ACME-1", "--as", "support-test", "--account-label", ENTRI)
    assert out == f"{PORTAL_LINK}\n"


def test_only_those_who_may_hand_out_links_run_it(entri, customer,
                                                  plain_staff_user):
    assert "billing.generate_billing_link" in refused("ACC-ACME-1", "--as", "staff-test")
    assert entri.requests == [] and StaffAction.objects.count() == 0


@pytest.mark.parametrize(("answer", "expected"), [
    (respond(500, {"message": "Internal error"}), "failed to answer"),
    (fail_with(httpx.ConnectTimeout, "no answer"), "could not be reached"),
], ids=["500", "timeout"])
def test_an_upstream_failure_exits_non_zero_with_an_audited_failure(
        entri, customer, support_user, answer, expected):
    entri.script("GET", LINK_PATH, answer)
    message = refused("ACC-ACME-1", "--as", "support-test")
    assert f"{ENTRI} could not generate the link" in message and expected in message
    assert "Internal error" not in message and SECRET not in message
    row = StaffAction.objects.get()
    assert (row.action, row.outcome) == (portal.BILLING_LINK_ACTION,
                                         StaffAction.Outcome.FAILED)
    assert "portal_url" not in row.parameters
