"""Document 003's order rules (registrar.providers.saleshandy.rules.clean_order): every
rule refused before anything is sent, every problem at once keyed by our field names,
and the wire body it gives.

Only the HTTP boundary is fake: `FakeSaleshandy`, which must see no request at all.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from registrar.providers.errors import CallerError
from registrar.providers.saleshandy.rules import clean_order
from tests.fakes.saleshandy import DOC_BODY, DOMAINS, OWNER, FakeSaleshandy, adapter, order_kwargs


def _owner(**changes: Any) -> dict[str, Any]:
    owner = {**OWNER, **changes}
    return {key: value for key, value in owner.items() if value is not None}


def _domain(**changes: Any) -> list[dict[str, Any]]:
    domain = {**copy.deepcopy(DOMAINS[0]), **changes}
    return [domain]


def _mailbox(**changes: Any) -> list[dict[str, Any]]:
    mailbox = {**DOMAINS[0]["mailboxes"][0], **changes}
    return _domain(mailboxes=[mailbox])


RULES = [
    ("first_name", {"owner": _owner(first_name="")}, "required"),
    ("first_name", {"owner": _owner(first_name="J" * 51)}, "1 to 50"),
    ("last_name", {"owner": _owner(last_name=None)}, "required"),
    ("last_name", {"owner": _owner(last_name="S" * 51)}, "1 to 50"),
    ("phone", {"owner": _owner(phone="4155551234")}, "international"),
    ("phone", {"owner": _owner(phone="+1.5551234567")}, "not a valid phone"),
    ("phone", {"owner": _owner(phone=None)}, "required"),
    ("country", {"owner": _owner(country="USA")}, "two-letter"),
    ("country", {"owner": _owner(country="us")}, "two-letter"),
    ("country", {"owner": _owner(country="XX")}, "not an ISO"),
    ("street_address", {"owner": _owner(street_address="")}, "required"),
    ("city", {"owner": _owner(city=None)}, "required"),
    ("post_code", {"owner": _owner(post_code="")}, "required"),
    ("email_service_provider", {"email_service_provider": "Yahoo"}, "Google, Microsoft, Azure"),
    ("email_service_provider", {"email_service_provider": "google"}, "Google, Microsoft"),
    ("plan_type", {"plan_type": "monthly"}, "quarterly, annualFlexi, annualFixed"),
    ("plan_type", {"email_service_provider": "Azure", "plan_type": "monthly"}, "billing cycle"),
    ("plan_type", {"email_service_provider": "Azure", "plan_type": "annualFlexi"},
     "only sold quarterly"),
    ("plan_type", {"email_service_provider": "Azure", "plan_type": "annualFixed"},
     "only sold quarterly"),
    ("domains", {"domains": []}, "at least one domain"),
    ("domains[0].mailboxes", {"domains": _domain(mailboxes=[])}, "at least one mailbox"),
    ("domains[0].name", {"domains": _domain(name="not a domain")}, "not a valid domain"),
    ("domains[0].name", {"domains": _domain(name="")}, "Enter a domain"),
    ("domains[0].redirect_url", {"domains": _domain(redirect_url="https://acmecorp.com")},
     "bare domain"),
    ("domains[0].redirect_url", {"domains": _domain(redirect_url="acmecorp.com/landing")},
     "bare domain"),
    ("domains[0].redirect_url", {"domains": _domain(redirect_url="acmecorp.com:8080")},
     "bare domain"),
    ("domains[0].redirect_url", {"domains": _domain(redirect_url="acmecorp")}, "needs a name"),
    ("domains[0].mailboxes[0].email", {"domains": _mailbox(email="john@elsewhere.com")},
     "must be on tryoutreachteam.com"),
    ("domains[0].mailboxes[0].email", {"domains": _mailbox(email="")}, "not an e-mail"),
    ("domains[0].mailboxes[0].email", {"domains": _mailbox(email="jo hn")}, "not an e-mail"),
    ("domains[0].mailboxes[0].first_name", {"domains": _mailbox(first_name=" ")},
     "first and last name"),
    ("domains[0].mailboxes[1].email",
     {"domains": _domain(mailboxes=[DOMAINS[0]["mailboxes"][0]] * 2)}, "twice"),
    ("domains[1].name", {"domains": _domain() + _domain()}, "twice"),
]


@pytest.mark.parametrize(("key", "overrides", "message"), RULES,
                         ids=[f"{key}-{i}" for i, (key, _, _) in enumerate(RULES)])
def test_order_rules_are_enforced_before_sending(key, overrides, message):
    fake = FakeSaleshandy()

    with pytest.raises(ValidationError) as caught:
        adapter(fake).create_order(**order_kwargs(**overrides))

    errors = caught.value.message_dict
    assert key in errors, errors
    assert any(message in text for text in errors[key]), errors[key]
    assert fake.requests == [] and fake.orders == {}


def test_azure_monthly_is_refused():
    with pytest.raises(ValidationError) as caught:
        clean_order(**order_kwargs(email_service_provider="Azure", plan_type="annualFlexi"))
    assert caught.value.message_dict == {"plan_type": ["Azure mailboxes are only sold quarterly."]}


def test_every_problem_is_reported_at_once():
    with pytest.raises(ValidationError) as caught:
        clean_order(owner=_owner(first_name="", country="usa"), email_service_provider="Yahoo",
                    domains=_domain(redirect_url="http://x.com", mailboxes=[]))
    assert set(caught.value.message_dict) == {
        "first_name", "country", "email_service_provider", "domains[0].redirect_url",
        "domains[0].mailboxes"}


@pytest.mark.parametrize("kwargs", [
    {"owner": ["John"]},
    {"domains": "tryoutreachteam.com"},
    {"domains": ["tryoutreachteam.com"]},
    {"is_free_order": "yes"},
    {"is_replacement": 1},
    {"domains": _mailbox(profile_pic_id="1")},
    {"domains": _mailbox(profile_pic_id=-1)},
    {"domains": _domain(mailboxes=["john"])},
])
def test_arguments_of_the_wrong_type_are_caller_errors(kwargs):
    fake = FakeSaleshandy()
    with pytest.raises(CallerError):
        adapter(fake).create_order(**order_kwargs(**kwargs))
    assert fake.requests == []


def test_clean_order_is_pure_and_gives_the_wire_body():
    assert clean_order(**order_kwargs()) == DOC_BODY


def test_a_mailbox_may_be_a_local_part_and_is_lower_cased_onto_its_domain():
    body = clean_order(**order_kwargs(domains=_domain(
        name="TryOutreachTeam.com", redirect_url="", mailboxes=[
            {"first_name": " Jane ", "last_name": "Doe", "email": "Jane.Doe"}])))
    assert body["domains"] == [{"name": "tryoutreachteam.com", "mailboxes": [
        {"firstname": "Jane", "lastname": "Doe", "email": "jane.doe@tryoutreachteam.com",
         "profilePicId": 0}]}]


def test_the_owner_phone_goes_out_as_plain_e164():
    body = clean_order(**order_kwargs(owner=_owner(phone="+1 415 555 1234",
                                                   organization="", state=None)))
    assert body["phoneNumber"] == "+14155551234"
    assert "companyName" not in body and "state" not in body
