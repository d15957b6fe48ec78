import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from registrar.models import Process, ProcessStatus, Registration, Tld
from registrar.values.names import normalise_tld, to_ascii, to_unicode
from tests.factories import ProcessFactory, RegistrationFactory, TldFactory


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Example.COM", "example.com"),
        ("  example.com.  ", "example.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("café-kranz.com", "xn--caf-kranz-d4a.com"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("ｅｘａｍｐｌｅ.com", "example.com"),  # full-width, as pasted from some keyboards
    ],
)
def test_names_are_normalised_to_lower_case_punycode(typed, stored):
    assert to_ascii(typed) == stored


@pytest.mark.parametrize("bad", ["", "   ", "com", "exa mple.com", "-example.com", "a..com",
                                 "x" * 64 + ".com", ("a" * 60 + ".") * 5 + "com"])
def test_invalid_names_are_refused_with_a_reason(bad):
    with pytest.raises(ValidationError):
        to_ascii(bad)


def test_unicode_form_round_trips():
    assert to_unicode("xn--bcher-kva.de") == "bücher.de"
    assert normalise_tld(".DE") == "de"


@pytest.mark.django_db
def test_registration_saves_its_name_in_ascii_and_shows_unicode():
    registration = RegistrationFactory(name="Straße-Süd.de", tld=TldFactory(name="de"))
    registration.refresh_from_db()
    assert registration.name == "xn--strae-sd-tya70a.de"
    assert str(registration) == "straße-süd.de"


@pytest.mark.django_db
def test_registration_names_are_unique_across_spellings():
    RegistrationFactory(name="bücher.de", tld=TldFactory(name="de"))
    with pytest.raises(IntegrityError), transaction.atomic():
        RegistrationFactory(name="BÜCHER.DE", tld=Tld.objects.get(name="de"))


@pytest.mark.django_db
def test_database_refuses_an_upper_case_name_written_around_the_model():
    registration = RegistrationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Registration.objects.filter(pk=registration.pk).update(name="UPPER.com")


@pytest.mark.django_db
def test_tld_fee_needs_a_currency():
    with pytest.raises(IntegrityError), transaction.atomic():
        Tld.objects.create(name="shop", privacy_fee_amount=500, privacy_fee_currency="")


@pytest.mark.django_db
def test_process_terminal_flag_follows_status():
    process = ProcessFactory(status=ProcessStatus.RUNNING)
    assert not process.is_terminal
    process.status = ProcessStatus.COMPLETED
    process.save()
    assert Process.objects.get(pk=process.pk).is_terminal


@pytest.mark.parametrize(
    ("status", "terminal"),
    [("NEW", False), ("VALIDATED", False), ("RUNNING", False), ("SCHEDULED", False),
     ("SUSPENDED", False), ("IN_DOUBT", False), ("COMPLETED", True), ("INVALID", True),
     ("CANCELLED", True), ("FAILED", True)],
)
def test_every_realtime_register_status_is_classified(status, terminal):
    assert ProcessStatus.is_terminal(status) is terminal


def test_database_is_the_configured_one():
    # Guards CI: the suite must run on the database DATABASE_URL names.
    import os

    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith("postgres") else "sqlite"
    assert connection.vendor == expected
