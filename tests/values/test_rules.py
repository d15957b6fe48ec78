"""The rules of registrar/values/, one kind at a time: every hostile value of the
catalogue refused with a ValidationError (never another exception), every accepted one
in its canonical form, and properties over arbitrary input."""

from __future__ import annotations

import ipaddress
import string
from decimal import Decimal

import iso4217
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from registrar.values import (
    addresses,
    amounts,
    countries,
    currencies,
    dates,
    emails,
    names,
    phones,
    text,
)
from tests.hostile import values as hostile
from tests.hostile.tally import record

RULES = {
    "names": names.intake_name,
    "addresses": addresses.clean_glue_address,
    "phones": phones.normalise_phone,
    "countries": countries.validate_country,
    "currencies": currencies.validate_currency,
    "amounts": lambda value: amounts.to_minor(value, "EUR"),
    "dates": dates.parse_moment,
    "text": lambda value: text.validate_text(value, max_length=100),
    "emails": emails.normalise_email,
}


@pytest.mark.parametrize("kind", sorted(RULES))
def test_every_hostile_value_of_a_kind_is_refused_by_its_rule(kind):
    accepted = []
    for value in hostile.ALL[kind]:
        try:
            RULES[kind](value)
        except ValidationError as refusal:
            assert refusal.messages and all(refusal.messages), value
        else:
            accepted.append(value)
    record(f"rule:{kind}", values=len(hostile.ALL[kind]),
           refusals=len(hostile.ALL[kind]) - len(accepted))
    assert accepted == []


@pytest.mark.parametrize(("kind", "given", "canonical"), [
    *(("names", raw, ascii) for raw, ascii in hostile.ACCEPTED_NAMES.items()),
    *(("phones", raw, wire) for raw, wire in hostile.ACCEPTED_PHONES.items()),
    *(("addresses", raw, (form, ipaddress.ip_address(form).version))
      for raw, form in hostile.ACCEPTED_ADDRESSES.items()),
    *(("amounts", raw, minor) for raw, minor in hostile.ACCEPTED_AMOUNTS.items()),
])
def test_a_valid_tricky_value_is_taken_in_its_canonical_form(kind, given, canonical):
    assert RULES[kind](given) == canonical


# --- names ------------------------------------------------------------------------------

def test_a_mixed_script_label_is_refused_where_a_name_is_taken_in():
    with pytest.raises(ValidationError) as refused:
        names.intake_name("p\u0430ypal.com")
    assert refused.value.code == "mixed_script"
    assert "mixes scripts (Cyrillic, Latin)" in refused.value.messages[0]
    # Mirrored from a registry, the same name is still readable: it exists there.
    assert names.to_ascii("p\u0430ypal.com") == "xn--pypal-4ve.com"


@pytest.mark.parametrize("name", ["日本語テスト.jp", "한국어.kr", "münchen.de", "ελληνικά.gr",
                                  "test-123.com", "xn--mnchen-3ya.de"])
def test_one_script_or_a_cjk_mix_is_not_a_mixed_script_label(name):
    assert names.intake_name(name) == names.to_ascii(name)


def test_a_whole_script_look_alike_is_warned_about_not_refused():
    lookalike = "\u0430\u0440\u0440\u04cf\u0435.com"  # Cyrillic, reads "apple"
    assert names.intake_name(lookalike) == "xn--80ak6aa92e.com"
    assert "looks like a Latin name" in names.lookalike_warning("xn--80ak6aa92e.com")
    assert names.lookalike_warning("xn--mnchen-3ya.de") is None
    assert names.lookalike_warning("example.com") is None
    assert names.lookalike_warning(names.to_ascii("ελληνικά.gr")) is None


def test_a_one_character_tld_is_refused():
    for name in ("example.c", "example.\u00e9"):
        with pytest.raises(ValidationError) as refused:
            names.to_ascii(name)
        assert refused.value.code == "invalid_tld"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_any_text_is_a_canonical_name_or_a_validation_error(raw):
    try:
        ascii_name = names.to_ascii(raw)
    except ValidationError:
        return
    assert ascii_name.isascii() and ascii_name == ascii_name.lower()
    assert len(ascii_name) <= names.MAX_NAME_LENGTH
    assert names.to_ascii(ascii_name) == ascii_name


# --- addresses --------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.ip_addresses())
def test_an_address_is_glue_only_when_the_internet_can_reach_it(address):
    try:
        form, version = addresses.clean_glue_address(str(address))
    except ValidationError:
        return
    parsed = ipaddress.ip_address(form)
    assert (form, version) == (parsed.compressed, parsed.version)
    assert not (parsed.is_loopback or parsed.is_multicast or parsed.is_link_local
                or parsed.is_unspecified)
    assert not any(parsed in ipaddress.ip_network(net) for net in (
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
        if ipaddress.ip_network(net).version == parsed.version)


@pytest.mark.parametrize("network", ["192.0.2.0/24", "2001:db8::/32", "192.0.2.1/32"])
def test_a_network_is_never_an_address(network):
    with pytest.raises(ValidationError) as refused:
        addresses.parse_address(network)
    assert refused.value.code == "cidr"


# --- phones -----------------------------------------------------------------------------

def test_an_italian_number_keeps_its_leading_zero():
    assert phones.normalise_phone("+39 06 1234 5678") == "+39.0612345678"
    assert phones.normalise_phone("+39.0612345678") == "+39.0612345678"


def test_both_upstream_dialects_carry_the_same_number():
    assert phones.in_dialect("+31 20 123 4567", "dotted") == "+31.201234567"
    assert phones.in_dialect("+31 20 123 4567", "plain") == "+31201234567"
    assert phones.in_dialect("+1.2015550123", "plain") == "+12015550123"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.digits + "+.-() x", max_size=30))
def test_any_phone_text_is_the_wire_form_or_a_validation_error(raw):
    try:
        wire = phones.normalise_phone(raw)
    except ValidationError:
        return
    assert phones.PHONE_WIRE_FORM.match(wire)
    assert phones.normalise_phone(wire) == wire


# --- countries and currencies -----------------------------------------------------------

def test_a_country_is_an_iso_3166_code_in_capitals():
    countries.validate_country("NL")
    countries.validate_country("GB")
    for code in ("UK", "nl", "NLD", "XX"):
        with pytest.raises(ValidationError):
            countries.validate_country(code)


def test_every_iso_4217_currency_with_a_minor_unit_is_a_currency_and_nothing_else_is():
    table = {unit.code: unit.exponent for unit in iso4217.Currency}
    for code, exponent in table.items():
        assert currencies.is_currency(code) is (exponent is not None), code
        if exponent is not None:
            assert currencies.exponent(code) == exponent
    assert (currencies.exponent("JPY"), currencies.exponent("EUR"),
            currencies.exponent("KWD"), currencies.exponent("CLF")) == (0, 2, 3, 4)
    for code in ("USA", "XXX", "XAU", "eur", "EURO"):
        assert not currencies.is_currency(code)


def test_the_models_refuse_a_currency_the_table_does_not_hold(db):
    from billing.models import Order
    from registrar.models import Tld

    for model, field in ((Tld, "privacy_fee_currency"), (Order, "currency")):
        column = model._meta.get_field(field)
        with pytest.raises(ValidationError):
            column.run_validators("USA")
        column.run_validators("EUR")


# --- amounts ----------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=amounts.MAX_AMOUNT_MINOR),
       st.sampled_from(["EUR", "JPY", "KWD", "CLF"]))
def test_a_typed_amount_round_trips_through_minor_units(minor, currency):
    typed = str(Decimal(minor).scaleb(-currencies.exponent(currency)))
    if "E" in typed:
        typed = format(Decimal(minor).scaleb(-currencies.exponent(currency)), "f")
    assert amounts.to_minor(typed, currency) == minor


def test_an_amount_more_precise_than_its_currency_is_refused():
    with pytest.raises(ValidationError) as refused:
        amounts.to_minor("1.5", "JPY")
    assert refused.value.code == "too_precise"
    assert amounts.to_minor("1.234", "KWD") == 1234


def test_an_amount_beyond_its_column_is_refused():
    with pytest.raises(ValidationError):
        amounts.validate_minor(amounts.MAX_MINOR + 1)
    with pytest.raises(ValidationError):
        amounts.to_minor(str(amounts.MAX_AMOUNT_MINOR + 1), "JPY")


# --- dates ------------------------------------------------------------------------------

@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_is_a_moment_in_the_window_or_a_validation_error(raw):
    try:
        moment = dates.parse_moment(raw, expiry=True)
    except ValidationError:
        return
    assert dates.EARLIEST <= moment <= dates.latest(expiry=True)


def test_the_last_representable_day_is_outside_the_window():
    with pytest.raises(ValidationError) as refused:
        dates.parse_moment("9999-12-31T23:59:59Z", expiry=True)
    assert refused.value.code == "out_of_window"
    with pytest.raises(ValidationError):
        dates.parse_day("9999-12-31")


# --- free text --------------------------------------------------------------------------

SAFE_TEXT = st.text(alphabet=st.characters(
    blacklist_categories=("Cc", "Cs"), blacklist_characters=[*text.BIDI_CONTROLS,
                                                       "\ufffe", "\uffff"]), max_size=60)


@settings(max_examples=300, deadline=None)
@given(SAFE_TEXT, SAFE_TEXT, st.sampled_from(sorted(text.BIDI_CONTROLS)
                                             + [chr(c) for c in range(32) if c not in (9, 10, 13)]
                                             + ["\x7f", "\x85", "\ud800", "\uffff"]))
def test_text_holding_a_control_or_bidi_character_is_refused_and_other_text_kept(
        before, after, bad):
    assert text.validate_text(before + after) == before + after
    with pytest.raises(ValidationError) as refused:
        text.validate_text(before + bad + after, multiline=True)
    assert refused.value.code == "text_characters"


def test_direction_marks_and_line_breaks_where_they_belong_are_kept():
    hebrew = "\u05e9\u05dc\u05d5\u05dd \u200fABC\u200e"
    assert text.validate_text(hebrew) == hebrew
    assert text.validate_text("two\nlines\tand a tab", multiline=True)
    with pytest.raises(ValidationError):
        text.validate_text("two\nlines")


# --- e-mail -----------------------------------------------------------------------------

def test_an_email_domain_is_kept_in_its_ascii_form():
    assert emails.normalise_email(" Ann@Example.COM ") == "Ann@example.com"
    assert emails.normalise_email("ann@münchen.de") == "ann@xn--mnchen-3ya.de"
    with pytest.raises(ValidationError):
        emails.normalise_email("ann@exam\u200bple.com")
