"""The one FilterSet behind the finance order list, its totals, its chart and its CSV:
all four read exactly the same filtered set."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.models import Q, QuerySet

from backoffice.forms import TextRuleForm
from backoffice.ids import parse_pk
from billing.models import Order, OrderKind, OrderStatus, PurchaseType
from registrar.models import ProviderAccount, Tld
from registrar.money import non_default_exponents
from registrar.values.amounts import MAX_AMOUNT_MINOR, parse_major
from registrar.values.dates import parse_day

SORTABLE = (
    ("placed_at", "placed"),
    ("id", "id"),
    ("domain", "domain"),
    ("status", "status"),
    ("kind", "kind"),
    ("currency", "currency"),
    ("total_minor", "total"),
    ("refunded_minor", "refunded"),
)


#: A skip scan of the orders' (currency, placed_at) index: each step the least code
#: above the last one found.
_CURRENCIES_SQL = """
    WITH RECURSIVE found(code) AS (
        SELECT MIN(currency) FROM billing_order
        UNION ALL
        SELECT (SELECT MIN(currency) FROM billing_order WHERE currency > found.code)
        FROM found WHERE found.code IS NOT NULL)
    SELECT code FROM found WHERE code IS NOT NULL"""


def order_currencies() -> list[str]:
    """The currencies orders are in, in code order, read from the (currency, placed_at)
    index one value at a time: one index probe per currency, where SELECT DISTINCT would
    read every order."""
    with connections[router.db_for_read(Order)].cursor() as cursor:
        cursor.execute(_CURRENCIES_SQL)
        return [code for (code,) in cursor.fetchall()]


def _currencies() -> list[tuple[str, str]]:
    return [(code, code) for code in order_currencies()]


def _tlds() -> list[tuple[str, str]]:
    return [(name, f".{name}") for name in Tld.objects.order_by("name").values_list(
        "name", flat=True)]


def amount_bound(value: Decimal, *, lower: bool) -> Q:
    """`total >= value` (or `<=`) in each currency's own minor units, exactly.

    Staff type an amount in major units ("12.50"). 12.50 is 1250 cents but 12 (not 13)
    yen, so the comparison is split by currency exponent rather than done in cents."""
    lookup = "total_minor__gte" if lower else "total_minor__lte"
    special = non_default_exponents()
    clauses = Q()
    for exp, codes in special.items():
        clauses |= Q(currency__in=codes) & Q(**{lookup: _minor_bound(value, exp, lower)})
    others = [code for codes in special.values() for code in codes]
    clauses |= ~Q(currency__in=others) & Q(**{lookup: _minor_bound(value, 2, lower)})
    return clauses


def _minor_bound(value: Decimal, exp: int, lower: bool) -> int:
    scaled = value.scaleb(exp)
    whole = scaled.to_integral_value(rounding="ROUND_CEILING" if lower else "ROUND_FLOOR")
    return int(whole)


#: Decimals a typed bound may have: as many as the currencies with the most that orders
#: are charged in (three: BHD, KWD...), since one bound is compared with every currency.
AMOUNT_DECIMALS = 3


class AmountField(forms.DecimalField):
    """A bound in major units, read by the amounts rule (registrar/values/amounts.py) as
    an amount in a currency with AMOUNT_DECIMALS decimals: a plain decimal number with a
    dot ("1e9", "NaN", "+5", "1_000" and other scripts' digits, which Decimal takes, are
    refused), not
    negative, and no larger than an operator may type."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", Decimal(0))
        kwargs.setdefault("max_digits", 18)
        kwargs.setdefault("decimal_places", AMOUNT_DECIMALS)
        super().__init__(**kwargs)

    def to_python(self, value):
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        try:
            return parse_major(value, places=AMOUNT_DECIMALS)
        except ValidationError as error:
            if error.code == "out_of_range":
                most = Decimal(MAX_AMOUNT_MINOR).scaleb(-AMOUNT_DECIMALS).normalize()
                raise ValidationError(f"At most {most:f}.", code="out_of_range") from None
            raise


class AmountFilter(django_filters.NumberFilter):
    field_class = AmountField


class YesNoField(forms.NullBooleanField):
    """"", "true" or "false", and nothing else: NullBooleanField reads any other text
    ("maybe", "yes") as "any", which would quietly widen the set."""

    widget = forms.Select(choices=[("", "any"), ("true", "yes"), ("false", "no")])

    def to_python(self, value):
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("true", "false"):
            return text == "true"
        raise forms.ValidationError("Choose any, yes or no.", code="invalid")

    def validate(self, value):
        pass


class YesNoFilter(django_filters.BooleanFilter):
    field_class = YesNoField


class DayField(forms.DateField):
    """A day as YYYY-MM-DD inside the window of registrar/values/dates.py: a year 1 or
    9999 bound would reach the revenue chart's month arithmetic."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, date):
            value = value.isoformat()
        return parse_day(value)


class DayRangeField(django_filters.fields.DateRangeField):
    def __init__(self, *args, **kwargs):
        # DateRangeField's own __init__ would make the two plain DateFields.
        django_filters.fields.RangeField.__init__(self, (DayField(), DayField()), *args,
                                                  **kwargs)


class DayRangeFilter(django_filters.DateFromToRangeFilter):
    field_class = DayRangeField


class ProviderField(django_filters.fields.ModelChoiceField):
    """A provider account's id as the page writes it: ASCII digits within the id range
    (int() would take " 1", "+1" or an Arabic-Indic one for provider 1)."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if parse_pk(value) is None:
            raise ValidationError(self.error_messages["invalid_choice"],
                                  code="invalid_choice")
        return super().to_python(value)


class ProviderFilter(django_filters.ModelChoiceFilter):
    field_class = ProviderField


class OrderFilterForm(TextRuleForm, forms.Form):
    def clean(self):
        data = super().clean()
        low, high = data.get("amount_min"), data.get("amount_max")
        if low is not None and high is not None and low > high:
            self.add_error("amount_max", "This is below “Total at least”.")
        placed = data.get("placed")
        if placed and placed.start and placed.stop and placed.start > placed.stop:
            self.add_error("placed", "The last day is before the first.")
        return data


class OrderFilter(django_filters.FilterSet):
    # One column of the order's own row: an IN list repeats no order, so no DISTINCT
    # (django-filter's default for a multiple choice, which would sort every match).
    status = django_filters.MultipleChoiceFilter(choices=OrderStatus.choices, distinct=False)
    kind = django_filters.MultipleChoiceFilter(choices=OrderKind.choices, distinct=False)
    provider = ProviderFilter(
        field_name="provider_account", queryset=ProviderAccount.objects.order_by("label"),
        label="Provider", empty_label="any")
    tld = django_filters.ChoiceFilter(choices=_tlds, method="filter_tld", label="TLD",
                                      empty_label="any")
    currency = django_filters.ChoiceFilter(choices=_currencies, empty_label="any")
    placed = DayRangeFilter(
        field_name="placed_at", label="Placed (from, to)",
        widget=django_filters.widgets.DateRangeWidget(attrs={"type": "date"}))
    amount_min = AmountFilter(method="filter_amount_min",
                                             label="Total at least")
    amount_max = AmountFilter(method="filter_amount_max",
                                             label="Total at most")
    customer = django_filters.CharFilter(method="filter_customer",
                                         label="Account e-mail or customer reference")
    purchase_type = django_filters.ChoiceFilter(choices=PurchaseType.choices,
                                                empty_label="any")
    premium = YesNoFilter()
    sort = django_filters.OrderingFilter(fields=SORTABLE, label="Sort by")

    class Meta:
        model = Order
        fields: list[str] = []
        form = OrderFilterForm

    def filter_tld(self, queryset: QuerySet[Order], name: str, value: str) -> QuerySet[Order]:
        # Mirrored orders may not know their Tld row; their domain still tells.
        return queryset.filter(Q(tld__name=value) | Q(tld__isnull=True,
                                                     domain__iendswith=f".{value}"))

    def filter_amount_min(self, queryset, name, value):
        return queryset.filter(amount_bound(Decimal(value), lower=True))

    def filter_amount_max(self, queryset, name, value):
        return queryset.filter(amount_bound(Decimal(value), lower=False))

    def filter_customer(self, queryset, name, value: str):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(
            Q(account__email__iexact=value) | Q(customer_reference__iexact=value)
            | Q(account__customer_reference__iexact=value))


def parameter_names(order_filter: OrderFilter) -> dict[str, bool]:
    """{query parameter the filter reads: whether it reads every value given}: each
    field's name, or the names its widget reads (placed_after and placed_before for
    "placed"). A single-valued field reads the last value given."""
    names = {}
    for name, field in order_filter.form.fields.items():
        multiple = getattr(field.widget, "allow_multiple_selected", False)
        suffixes = getattr(field.widget, "suffixes", None)
        if suffixes:
            names.update({field.widget.suffixed(name, suffix): multiple
                          for suffix in suffixes})
        else:
            names[name] = multiple
    return names


def error_messages(order_filter: OrderFilter) -> list[str]:
    """The form's errors as sentences naming the field, for the top of the form, the
    refused download and the chart's empty state."""
    form = order_filter.form
    messages = []
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else None
        for error in errors:
            messages.append(f"{label}: {error}" if label else str(error))
    return messages


def filtered_orders(params, queryset: QuerySet[Order] | None = None) -> OrderFilter:
    """The FilterSet for request parameters, on every order by default. When the
    parameters are invalid the set is empty and the form carries the messages (django
    -filter's default would silently ignore them), so an export never widens by mistake."""
    base = queryset if queryset is not None else Order.objects.all()
    order_filter = OrderFilter(params or None, queryset=base)
    if order_filter.is_bound and not order_filter.is_valid():
        order_filter._qs = base.none()  # django-filter caches its set here
    return order_filter

