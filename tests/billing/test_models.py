import pytest
from django.db import IntegrityError, transaction

from billing.models import LedgerEntry, Order
from registrar.money import format_minor, to_decimal
from tests.factories import LedgerEntryFactory, OrderFactory


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["subtotal_minor", "fees_minor", "total_minor",
                                   "refunded_minor"])
def test_amounts_cannot_be_negative(field):
    order = OrderFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Order.objects.filter(pk=order.pk).update(**{field: -1})


@pytest.mark.django_db
def test_refund_cannot_exceed_total():
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(total_minor=1000, refunded_minor=1001)


@pytest.mark.django_db
def test_years_are_bounded_and_currency_is_iso():
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(years=11)
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(currency="usd")


@pytest.mark.django_db
def test_idempotency_key_is_unique():
    OrderFactory(idempotency_key="order-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory(idempotency_key="order-1")


@pytest.mark.django_db
def test_ledger_is_append_only():
    entry = LedgerEntryFactory()
    entry.note = "edited"
    with pytest.raises(ValueError, match="append-only"):
        entry.save()
    with pytest.raises(ValueError, match="append-only"):
        LedgerEntry.objects.filter(pk=entry.pk).update(note="x")
    with pytest.raises(ValueError, match="append-only"):
        entry.delete()
    assert LedgerEntry.objects.get(pk=entry.pk).note == ""


def test_money_is_exact():
    assert str(to_decimal(1399, "USD")) == "13.99"
    assert str(to_decimal(1399, "JPY")) == "1399"
    assert format_minor(5, "EUR") == "0.05 EUR"
