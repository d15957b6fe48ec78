import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from contacts.models import Contact
from contacts.validation import normalise_phone, validate_country
from tests.factories import ContactFactory


@pytest.mark.parametrize(
    ("typed", "wire"),
    [
        ("+31.201234567", "+31.201234567"),
        ("+31 20 123 4567", "+31.201234567"),
        ("+1 (202) 555-0143", "+1.2025550143"),
        ("+44 20 7946 0000", "+44.2079460000"),
    ],
)
def test_phone_is_normalised_to_the_documented_wire_form(typed, wire):
    assert normalise_phone(typed) == wire


@pytest.mark.parametrize(
    "bad",
    ["0201234567", "31.201234567", "+31.20ABC4567", "+31.2012345678901234567", "+999.1234567",
     "", "+", "+31.12"],
)
def test_bad_phones_are_refused(bad):
    with pytest.raises(ValidationError):
        normalise_phone(bad)


@pytest.mark.parametrize("good", ["NL", "US", "GB", "DE"])
def test_iso2_countries_accepted(good):
    validate_country(good)


@pytest.mark.parametrize("bad", ["nl", "NLD", "XX", "UK", "", "N1"])
def test_non_iso2_countries_refused(bad):
    with pytest.raises(ValidationError):
        validate_country(bad)


@pytest.mark.django_db
def test_full_clean_rejects_bad_country_and_phone():
    contact = ContactFactory.build(country="XX", phone="0201234567", tld=None, account=None)
    with pytest.raises(ValidationError) as excinfo:
        contact.full_clean(exclude=["tld", "account", "split_from"])
    assert {"country", "phone"} <= set(excinfo.value.message_dict)


@pytest.mark.django_db
def test_database_refuses_non_iso_country_and_non_e164_phone():
    contact = ContactFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(country="nl")
    with pytest.raises(IntegrityError), transaction.atomic():
        Contact.objects.filter(pk=contact.pk).update(phone="020 123 4567")
