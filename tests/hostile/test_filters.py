"""Hostile values in every changelist parameter of every admin, and in every parameter
the finance pages read: never a 500 (nor a database error on PostgreSQL), never an
upstream call, nothing stored.

A changelist answers 200 (the filter applied, or dropped with a message naming it), a
302 to the same changelist without the parameter (the message names it), 400 (a lookup
the admin does not allow) or 404. The finance pages answer 200 with a form error naming
the field, or 400 naming it (the CSV); the chart draws the reason, naming the field,
and never reaches a date outside the window registrar/values/dates.py allows.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote, urlsplit

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.views.main import ERROR_FLAG
from django.contrib.messages import get_messages
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.test import Client, RequestFactory

from backoffice.roles import FINANCE, SUPPORT
from billing.finance.filters import OrderFilter
from billing.models import Order
from tests.backoffice import test_url_matrix as matrix
from tests.factories import OrderFactory
from tests.hostile.probe import stored_anywhere
from tests.hostile.tally import record
from tests.hostile.values import DATES, IDS, NAMES, NUMBERS, TEXT

#: One real object of every model the admin shows (tests/backoffice/test_url_matrix.py).
world = matrix.world

HUGE = "9" * 400
#: Values that only a raw query string can carry: already percent-encoded, sent as is.
#: A lone surrogate (U+D800 as UTF-8 bytes), bytes that are not UTF-8, a NUL, an
#: overlong encoding of "/".
RAW = ["%ED%A0%80", "%FF", "a%FFb", "%00", "1%00", "%C0%AF", "%E2%80%AE1"]
#: A sample of the free-text and name catalogues: NUL and other controls, bidi, surrogates,
#: non-characters, very long, markup, SQL.
TEXT_SAMPLE = [TEXT[0], TEXT[8], TEXT[31], TEXT[62], *TEXT[-12:]]
NAMES_SAMPLE = [name for name in NAMES if any(mark in name for mark in (
    "\x00", "<", "'", "%", "\u202e", "\ud800", "\n"))] + ["", "   ", "a" * 64 + ".com"]
#: Parameters given twice, and a mix of good and bad.
REPEATED = [("1", "2"), ("1", HUGE), ("abc", "1"), ("", "")]

IDISH = [*IDS, *NUMBERS]
DATEISH = [*DATES, "9999", "10000", "1", "0", HUGE, "2024"]
TEXTISH = [*TEXT_SAMPLE, *NAMES_SAMPLE, "abc", HUGE, "((", "[", "\\"]
SHORT = ["abc", "-1", HUGE, "\x00", "\ud800", "١", "", "true", "1e3"]

#: Values per parameter and kind: each parameter takes its own share of the catalogue,
#: so that the parameters of one changelist between them try all of it.
PER_PARAMETER = 3

#: Statuses a changelist may answer a hostile parameter with.
FINE = {200, 302, 400, 404}


def query(params: list[tuple[str, str]]) -> str:
    """A query string, each value percent-encoded as UTF-8 (lone surrogates as the bytes
    a careless client would send) unless it is already in RAW."""
    parts = []
    for key, value in params:
        encoded = value if value in RAW else quote(value, safe="", errors="surrogatepass")
        parts.append(f"{quote(key, safe='')}={encoded}")
    return "&".join(parts)


# --- which parameters a changelist reads -----------------------------------------------


def _kind(field: models.Field | None, name: str) -> str:
    if name.endswith(("__year", "__month", "__day", "__gte", "__lt", "__lte", "__gt")):
        return "date"
    if field is None:
        return "text"
    if isinstance(field, models.BooleanField) or name.endswith("__isnull"):
        return "short"
    if field.is_relation or isinstance(field, models.IntegerField | models.AutoField):
        return "id"
    if isinstance(field, models.DateField | models.TimeField):
        return "date"
    return "text"


def _field_of(model, name: str) -> models.Field | None:
    try:
        return model._meta.get_field(name.split("__")[0])
    except FieldDoesNotExist:  # a SimpleListFilter's own parameter
        return None


def changelist_parameters(model_admin, user) -> dict[str, str]:
    """{parameter: kind of value it takes} for everything the changelist reads: each
    filter's parameters, the date hierarchy, search, ordering, page, the error flag, date
    ranges on the model's dates, and keys it does not know."""
    request = RequestFactory().get("/")
    request.user = user
    changelist = model_admin.get_changelist_instance(request)
    model = model_admin.model
    found: dict[str, str] = {"q": "text", "o": "id", "p": "id", ERROR_FLAG: "short",
                             "no_such_field": "text", "id__no_such_lookup": "short",
                             "_to_field": "short", "all": "short", "_facets": "short"}
    for spec in changelist.filter_specs:
        for name in spec.expected_parameters():
            found[name] = _kind(_field_of(model, name), name)
    if model_admin.date_hierarchy:
        for part in ("year", "month", "day"):
            found[f"{model_admin.date_hierarchy}__{part}"] = "date"
    for field in model._meta.concrete_fields:
        if isinstance(field, models.DateTimeField | models.DateField):
            found[f"{field.name}__gte"] = found[f"{field.name}__lt"] = "date"
    texts = [f.name for f in model._meta.concrete_fields
             if isinstance(f, models.CharField | models.TextField) and not f.choices]
    if texts:  # a local text field: the admin allows any lookup on it
        found[f"{texts[0]}__regex"] = found[f"{texts[0]}__contains"] = "text"
    found["id__in"] = "id"
    return found


VALUES = {"id": IDISH, "date": DATEISH, "text": TEXTISH, "short": SHORT}


def _admin_labels() -> list[str]:
    return sorted(f"{m._meta.app_label}.{m._meta.model_name}" for m in admin.site._registry)


def _month_needs_year(model_admin, name: str, value: str) -> list[tuple[str, str]]:
    params = [(name, value)]
    if model_admin.date_hierarchy and name in (f"{model_admin.date_hierarchy}__month",
                                               f"{model_admin.date_hierarchy}__day"):
        params.insert(0, (f"{model_admin.date_hierarchy}__year", "2024"))
        if name.endswith("__day"):
            params.insert(1, (f"{model_admin.date_hierarchy}__month", "2"))
    return params


def _problem(response, url: str, changelist: str, key: str) -> str | None:
    """Why `response` is not a fine answer to a hostile `key`, or None."""
    status = response.status_code
    if status not in FINE:
        return f"{status}"
    if status == 302:
        location = urlsplit(response["Location"])
        if location.path != changelist:
            return f"302 to {location.path}"
        if location.query == f"{ERROR_FLAG}=1":
            # Django's own "Database error" page: no filter named, the staff member is
            # told the installation is broken.
            return "302 to ?e=1 (Django's database error page)"
        texts = [str(m) for m in get_messages(response.wsgi_request)]
        if not any(key in text for text in texts):
            return f"302 without naming {key}: {texts}"
    if status == 200 and b"Database error" in response.content:
        return "200 database error page"
    return None


def drive_changelist(client: Client, model, model_admin, user, *,
                     kinds: dict[str, list[str]] = VALUES) -> tuple[int, int, list]:
    """(values tried, refusals, problems) for every parameter of one changelist."""
    opts = model._meta
    changelist = f"/admin/{opts.app_label}/{opts.model_name}/"
    tried = refused = 0
    problems = []
    for index, (key, kind) in enumerate(changelist_parameters(model_admin, user).items()):
        stride = max(1, len(kinds[kind]) // PER_PARAMETER)
        share = kinds[kind][index % stride::stride]
        raw = RAW[index % 2::2]
        cases: list[list[tuple[str, str]]] = [
            _month_needs_year(model_admin, key, value) for value in [*share, *raw]]
        cases += [[(key, first), (key, second)] for first, second in REPEATED[index % 2::2]]
        for params in cases:
            url = f"{changelist}?{query(params)}"
            response = client.get(url)
            tried += 1
            if response.status_code != 200:
                refused += 1
            problem = _problem(response, url, changelist, key)
            if problem:
                problems.append((url[:160], problem))
    return tried, refused, problems


@pytest.fixture
def root(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.users["superuser"])
    return client


def _row_counts() -> dict[str, int]:
    return {model._meta.label: model._base_manager.count() for model in apps.get_models()
            if model._meta.app_label in ("registrar", "contacts", "billing", "backoffice")}


@pytest.mark.parametrize("label", _admin_labels())
def test_every_changelist_parameter_takes_hostile_values(world, root, label):
    model = apps.get_model(label)
    model_admin = admin.site._registry[model]
    before = _row_counts()
    tried, refused, problems = drive_changelist(root, model, model_admin,
                                                world.users["superuser"])
    upstream = len(world.sandbox.transport.requests)
    stored = sum(bool(stored_anywhere(value)) for value in (TEXT[8], "evil\u202egnp.exe"))
    server_errors = sum(problem.isdigit() and int(problem) >= 500 for _, problem in problems)
    record(f"admin:{label}:changelist", values=tried, refusals=refused,
           server_errors=server_errors, upstream_calls_with_refused_value=upstream,
           refused_values_stored=stored,
           refusals_not_naming_the_field=sum("naming" in p for _, p in problems))
    assert problems == [], "\n".join(map(str, problems))
    assert upstream == 0
    assert stored == 0
    assert _row_counts() == before


def test_support_staff_meet_the_same_on_registrations(world):
    client = Client(raise_request_exception=False)
    support = world.users[SUPPORT]
    client.force_login(support)
    from registrar.models import Registration

    model_admin = admin.site._registry[Registration]
    tried, refused, problems = drive_changelist(
        client, Registration, model_admin, support,
        kinds=VALUES)
    record("admin:registrar.registration:changelist:support", values=tried,
           refusals=refused,
           server_errors=sum(p.isdigit() and int(p) >= 500 for _, p in problems),
           upstream_calls_with_refused_value=len(world.sandbox.transport.requests),
           refused_values_stored=0, refusals_not_naming_the_field=0)
    assert problems == [], "\n".join(map(str, problems))
    assert world.sandbox.transport.requests == []


# --- the finance pages ------------------------------------------------------------------

LIST, CSV, CHART, ATTENTION = "/finance/", "/finance/orders.csv", "/finance/revenue.svg", \
    "/finance/attention/"

#: Each parameter the order filter reads, with the values to try on it.
FINANCE_PARAMETERS: dict[str, list[str]] = {
    "status": [*IDS[:6], *TEXT_SAMPLE[:6], "placed", "PLACED", "placed\x00"],
    "kind": [*IDS[:6], *TEXT_SAMPLE[:6], "register\x00"],
    "provider": IDISH,
    "tld": [*NAMES_SAMPLE, *TEXT_SAMPLE[:6], "com\x00", ".com"],
    "currency": ["USA", "eur", "Eur", "EURO", "E\x00R", "ЕUR", "XXX", "€", *TEXT_SAMPLE[:6]],
    "placed_after": DATEISH,
    "placed_before": DATEISH,
    "amount_min": ["-1", "-0.01", "1e9", "1E3", "NaN", "nan", "inf", "-inf", "Infinity",
                   "4,99", "4.9999", "0x10", "١٢", "1_000", " ", "1.2.3", str(2**63),
                   str(2**64), "9" * 21, "+5", "5-", HUGE, "\x00"],
    "customer": [*TEXT_SAMPLE, *NAMES_SAMPLE],
    "purchase_type": [*IDS[:6], *TEXT_SAMPLE[:6]],
    "premium": [*SHORT, "yes", "maybe", "TRUE"],
    "sort": ["-", "--placed", "placed,placed", "nosuch", "-nosuch", "password", *IDS[:6],
             *TEXT_SAMPLE[:6]],
    "page": IDS,
}
FINANCE_PARAMETERS["amount_max"] = FINANCE_PARAMETERS["amount_min"]
#: Parameters no finance page reads (there is no export format, chart range or
#: granularity): ignored, and never a crash on their way into the export's audit row.
for _unknown in ("format", "granularity"):
    FINANCE_PARAMETERS[_unknown] = [*TEXT_SAMPLE[:8], HUGE, "csv", "xlsx"]

#: What each parameter is called on the page (its form label).
LABELS = {"placed_after": "Placed", "placed_before": "Placed", "page": None,
          "format": None, "range": None, "granularity": None, "no_such": None}


def _label(name: str) -> str | None:
    if name in LABELS:
        return LABELS[name]
    return str(OrderFilter().form.fields[name].label)


def _named(label: str | None, text: str) -> bool:
    return label is None or label.lower() in html.unescape(text).lower()


@pytest.fixture
def finance(world):
    client = Client(raise_request_exception=False)
    client.force_login(world.users[FINANCE])
    OrderFactory(currency="JPY", total_minor=1200, subtotal_minor=1200)
    return client


def _finance_cases() -> list[list[tuple[str, str]]]:
    cases = [[(name, value)] for name, values in FINANCE_PARAMETERS.items()
             for value in [*values, *RAW]]
    cases += [[(name, first), (name, second)] for name in FINANCE_PARAMETERS
              for first, second in REPEATED]
    cases += [[("placed_after", "2030-01-01"), ("placed_before", "2020-01-01")],
              [("amount_min", "20"), ("amount_max", "10")],
              [("page", "2"), ("page", HUGE), ("sort", "-total"), ("status", "bogus")],
              # A hostile value given first, a good one last (what the form reads).
              [("customer", "Ann\x00e"), ("customer", "someone@example.com")],
              [("tld", "com\x00"), ("tld", "com")],
              [("placed_after", "0001-01-01"), ("placed_after", "2024-01-01")]]
    return cases


def must_refuse(params: list[tuple[str, str]]) -> bool:
    """Whether the one hostile parameter in `params` has to be refused (rather than
    dropped or read as "any"): a date, an amount or a provider id that is not one."""
    if len(params) != 1:
        return False
    name, value = params[0]
    if not value.strip() or value in RAW:
        return False
    if name.startswith("placed_"):
        return True
    return name in ("amount_min", "amount_max", "provider")


def _list_problem(response, params) -> tuple[str | None, bool]:
    """(what is wrong, refused) for the order list's answer."""
    if response.status_code != 200:
        return f"{response.status_code}", False
    name, value = params[0]
    if name == "page" and len(params) == 1 and value.strip() and not re.fullmatch(
            r"[1-9][0-9]{0,17}", value):
        if b"The page number was not valid" not in response.content:
            return "a hostile page number without a message", False
        return None, True
    if not response.context["invalid"]:
        if must_refuse(params):
            return "accepted", False
        return None, False
    errors = " ".join(response.context["form_errors"])
    label = _label(params[0][0])
    if not _named(label, errors):
        return f"error not naming {label}: {errors[:200]}", True
    return None, True


def _csv_problem(response, params) -> tuple[str | None, bool]:
    if response.status_code == 200:
        b"".join(response.streaming_content)  # the whole download runs, as a browser's
        return ("accepted" if must_refuse(params) else None), False
    if response.status_code != 400:
        return f"{response.status_code}", False
    label = _label(params[0][0])
    if not _named(label, response.content.decode()):
        return f"400 not naming {label}: {response.content[:200]!r}", True
    return None, True


_MONTH = re.compile(rb'data-month="(\d+)-\d\d"')


def _chart_problem(response, params) -> tuple[str | None, bool]:
    if response.status_code != 200:
        return f"{response.status_code}", False
    body = response.content
    years = [int(year) for year in _MONTH.findall(body)]
    if years and not 2000 <= min(years) <= max(years) <= 2040:
        return f"chart drew the years {min(years)}..{max(years)}", False
    if b"not valid" in body:
        label = _label(params[0][0])
        if not _named(label, body.decode()):
            return f"chart reason not naming {label}", True
        return None, True
    return ("accepted" if must_refuse(params) else None), False


@pytest.mark.parametrize("page", ["list", "csv", "chart"])
def test_every_finance_parameter_takes_hostile_values(world, finance, page):
    path, check = {"list": (LIST, _list_problem), "csv": (CSV, _csv_problem),
                   "chart": (CHART, _chart_problem)}[page]
    orders = Order.objects.count()
    problems, tried, refused = [], 0, 0
    for params in _finance_cases():
        response = finance.get(f"{path}?{query(params)}")
        tried += 1
        problem, was_refused = check(response, params)
        refused += was_refused
        if problem:
            problems.append((query(params)[:120], problem))
    stored = sum(bool(stored_anywhere(value)) for value in (TEXT[8], "evil\u202egnp.exe"))
    record(f"finance:{page}", values=tried, refusals=refused,
           server_errors=sum(p.isdigit() and int(p) >= 500 for _, p in problems),
           upstream_calls_with_refused_value=len(world.sandbox.transport.requests),
           refused_values_stored=stored,
           refusals_not_naming_the_field=sum("naming" in p for _, p in problems))
    assert problems == [], "\n".join(map(str, problems))
    assert stored == 0
    assert Order.objects.count() == orders
    assert world.sandbox.transport.requests == []


def test_finance_pages_without_filters_ignore_hostile_parameters(world, finance):
    """The attention report and the order page read no filter: any parameter is ignored,
    and a hostile id in the order's path is a 404."""
    problems, tried = [], 0
    for value in [*IDISH, *TEXT_SAMPLE, *RAW]:
        for url in (f"{ATTENTION}?{query([('page', value), ('section', value)])}",
                    f"/finance/orders/{world.order.pk}/?{query([('tab', value)])}"):
            response = finance.get(url)
            tried += 1
            if response.status_code != 200:
                problems.append((url[:120], response.status_code))
    for value in ("0", HUGE, str(2**63), str(2**64)):
        response = finance.get(f"/finance/orders/{value}/")
        tried += 1
        if response.status_code != 404:
            problems.append((value[:30], response.status_code))
    record("finance:attention+detail", values=tried, refusals=4,
           server_errors=sum(status >= 500 for _, status in problems),
           upstream_calls_with_refused_value=0, refused_values_stored=0,
           refusals_not_naming_the_field=0)
    assert problems == []
