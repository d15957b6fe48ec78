"""Names typed by staff are refused, by name of the field, when they are not domain
names: IP literals, invisible characters, a TLD that is not one label. Nothing is sent,
nothing is stored."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from backoffice.models import StaffAction
from billing import ordering
from billing.models import Order
from registrar import services
from registrar.models import Registration, Tld
from registrar.operations import InvalidInput
from registrar.values.names import normalise_tld, to_ascii
from tests.billing.test_ordering import NAMECOM, customer, namecom, quote  # noqa: F401
from tests.factories import RegistrationFactory, TldFactory

IP_LITERALS = ["192.0.2.1", "1.2.3.4", "10.0.0.1", "example.123"]
INVISIBLE = ["exam\u200bple.com", "exam\u00adple.com", "\ufeffexample.com",
             "example\u2060.com"]


@pytest.mark.parametrize("value", IP_LITERALS)
def test_an_ip_literal_is_not_a_domain_name(value):
    with pytest.raises(ValidationError) as refused:
        to_ascii(value)
    assert refused.value.code == "ip_literal"


@pytest.mark.parametrize("value", INVISIBLE)
def test_an_invisible_character_is_refused_not_silently_dropped(value):
    with pytest.raises(ValidationError) as refused:
        to_ascii(value)
    assert refused.value.code == "invisible_character"
    assert "U+" in refused.value.messages[0]


def test_a_joiner_that_idna_allows_in_context_is_kept():
    # ZWNJ is part of Persian spelling (IDNA 2008 CONTEXTJ): not an invisible typo.
    assert to_ascii("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645.ir").startswith("xn--")


@pytest.mark.parametrize("value", ["example.c", "1.2.3.4", "c", "123", "co.uk"])
def test_a_tld_is_one_label_of_two_characters_not_all_digits(value):
    with pytest.raises(ValidationError):
        normalise_tld(value)
    assert normalise_tld(".DE") == "de"


@pytest.fixture
def world(sandbox):
    registration = RegistrationFactory(name="example.com", tld=TldFactory(name="com"))
    sandbox.seed()
    sandbox.transport.requests.clear()
    return registration


@pytest.mark.parametrize("value", ["192.0.2.1", "ns1.exam\u200bple.net"])
def test_a_nameserver_that_is_not_a_host_name_is_refused_everywhere(
        value, world, sandbox, support_user, client, capsys):
    # The service.
    with pytest.raises(InvalidInput) as refused:
        services.registration_set_nameservers(
            registration=world, nameservers=[value, "ns2.example.net"], actor=support_user)
    assert "nameservers" in refused.value.field_errors
    # The page.
    client.force_login(support_user)
    url = reverse("admin:registrar_registration_operation", args=[world.pk, "nameservers"])
    response = client.post(url, {"nameservers": f"{value}\nns2.example.net"})
    assert response.status_code == 200
    assert response.context["form"].errors["nameservers"]
    # The command line.
    with pytest.raises(CommandError, match="--ns"):
        call_command("registration", "nameservers", "example.com", "--ns", value,
                     "--ns", "ns2.example.net", "--as", support_user.username,
                     stdout=StringIO(), stderr=StringIO())
    assert sandbox.transport.requests == []
    assert not StaffAction.objects.exists()
    world.refresh_from_db()
    assert world.nameservers == Registration.objects.get(pk=world.pk).nameservers
    assert value not in world.nameservers


@pytest.mark.parametrize("value", ["1.2.3.4", "exam\u200bple.com"])
def test_a_quote_for_a_name_that_is_not_one_is_refused_and_nothing_is_sent(
        value, support_user, customer, namecom):  # noqa: F811
    namecom.requests.clear()
    with pytest.raises(InvalidInput) as refused:
        quote(support_user, customer, NAMECOM, "register", value)
    assert "domain" in refused.value.field_errors
    assert namecom.requests == []
    assert not Order.objects.exists()
    assert ordering  # the service under test


@pytest.mark.parametrize("value", ["1.2.3.4", "example.c"])
def test_the_tld_admin_refuses_a_tld_that_is_not_one(value, client, db, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "x" * 16)
    client.force_login(root)
    response = client.post(reverse("admin:registrar_tld_add"), {
        "name": value, "authcode_behavior": "standard", "provider_account": ""})
    assert response.status_code == 200
    assert "name" in response.context["adminform"].form.errors
    assert not Tld.objects.filter(name__contains="1").exists()
    assert not Tld.objects.filter(name="example.c").exists()


@pytest.mark.parametrize("field", ["first_name", "last_name", "country", "email", "phone"])
def test_a_holder_edit_never_blanks_a_required_field(field, world, sandbox, support_user):
    with pytest.raises(InvalidInput) as refused:
        services.registration_update_holder(
            registration=world, action_mode="edit_current", holder={field: ""},
            actor=support_user)
    assert field in refused.value.field_errors
    with pytest.raises(CommandError):
        call_command("registration", "holder", "example.com", "--mode", "edit_current",
                     "--field", f"{field}=", "--as", support_user.username,
                     stdout=StringIO(), stderr=StringIO())
    assert sandbox.transport.requests == []
    assert not StaffAction.objects.exists()
