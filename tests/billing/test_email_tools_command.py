"""`manage.py order plans` and `order mailbox-names`: the email order form's helpers
from a shell, through the same services, against Saleshandy faked at the HTTP boundary."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from backoffice.models import StaffAction
from tests.billing.test_email_order_extras import saleshandy  # noqa: F401  (fixture)
from tests.fakes.http import body_of
from tests.fakes.saleshandy import error


def run(*argv: str) -> str:
    out = StringIO()
    call_command("order", *argv, stdout=out)
    return out.getvalue()


def test_mailbox_names_are_asked_as_the_form_asks(saleshandy, support_user):  # noqa: F811
    names = json.loads(run("mailbox-names", "acmeoutreach.com", "--first-name", "John",
                           "--last-name", "Smith", "--count", "2", "--as", "support-test",
                           "--format", "json"))
    [sent] = saleshandy.sent("POST", "/v1/domain/generate-mailbox-names")
    assert body_of(sent) == {"firstName": "John", "lastName": "Smith",
                             "domain": "acmeoutreach.com", "count": 2}
    assert names and all(isinstance(row["mailbox"], str) and row["mailbox"] for row in names)
    assert not StaffAction.objects.exists()  # a read: nothing kept


def test_a_bad_count_names_the_option_and_sends_nothing(saleshandy, support_user):  # noqa: F811
    with pytest.raises(CommandError, match="--count"):
        run("mailbox-names", "acmeoutreach.com", "--first-name", "John", "--last-name",
            "Smith", "--count", "40", "--as", "support-test")
    assert saleshandy.requests == []


def test_plans_are_listed_with_their_prices(saleshandy, support_user):  # noqa: F811
    table = run("plans", "--as", "support-test")
    assert [r.url.path for r in saleshandy.requests] == ["/v1/domain/plans"]
    assert "quarterly" in table and "9.00 USD" in table
    saleshandy.script("GET", "/v1/domain/plans", error(503, "Down"))
    with pytest.raises(CommandError, match="could not list its plans"):
        run("plans", "--as", "support-test")


def test_finance_may_not_use_the_ordering_helpers(saleshandy, finance_user):  # noqa: F811
    with pytest.raises(CommandError, match="not allowed"):
        run("plans", "--as", "finance-test")
    assert saleshandy.requests == []
