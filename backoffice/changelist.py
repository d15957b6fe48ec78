"""Changelists that stay fast at millions of rows.

Three levers, each a drop-in for a piece of Django's ModelAdmin:

- `ScaledPaginator` never counts a whole table: an unfiltered list shows PostgreSQL's
  planner estimate (`pg_class.reltuples`), a filtered one counts up to a cap and says
  "more than" beyond it. Deep pages are fetched by a deferred join: the page's primary
  keys first, from the ordering's index alone, then only those rows with their joins.
- `SearchPlan` replaces Django's "OR every search field with icontains, across joins,
  under DISTINCT" by a search split on the shape of the term: an e-mail address is
  matched exactly (case-insensitively) on its index, a domain name by its ASCII and
  Unicode forms (equality, prefix or trigram substring), an id exactly, and free words
  by trigram substring. Related rows are reached with `IN (subquery)`, which never
  repeats a row, so no DISTINCT is needed.
- `ScaledListMixin` wires both into a ModelAdmin.

The trigram (pg_trgm) indexes that serve the substring matches are created by the
apps' migrations on PostgreSQL only (`backoffice.db.trigram_index`); on SQLite the same
queries run without them, which is fine at the sizes SQLite serves.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.contrib.admin import ShowFacets
from django.core.cache import cache
from django.core.paginator import EmptyPage, Page, Paginator
from django.db import connections, models
from django.db.models import F, Q, QuerySet
from django.db.models.fields.reverse_related import ForeignObjectRel
from django.db.models.lookups import Lookup

from registrar.values import names

#: A filtered list is counted up to this many rows; beyond it the page says "more than".
COUNT_CAP = 10_000
#: Below this planner estimate the exact count is cheap enough to take.
EXACT_BELOW = 20_000
#: From this offset on, a page is read by a deferred join.
DEFERRED_FROM = 1_000
_LAST_OFFSET = 2**62

_WORD = re.compile(r"\S+")
_DIGITS = re.compile(r"^\d{1,18}$")
# What a domain name or a label of one looks like once typed: letters (any script),
# digits, hyphens and dots; no spaces, no "@".
_NAMEISH = re.compile(r"^[\w.-]+$", re.UNICODE)


def estimated_rows(model: type[models.Model], using: str = "default") -> int | None:
    """The planner's estimate of `model`'s row count on PostgreSQL; None elsewhere, or
    when the table was never analysed."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass",
                       [model._meta.db_table])
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] < 0:
        return None
    return int(row[0])


def _unfiltered(queryset: QuerySet) -> bool:
    query = queryset.query
    return not query.where and not query.distinct and query.low_mark == 0 \
        and query.high_mark is None


class ScaledPaginator(Paginator):
    """A paginator that never runs COUNT(*) over a whole large table.

    `count` is what the pages are computed from; `count_label` is what the page shows:
    "1,234", "about 1,000,000" (an estimate) or "more than 10,000" (a capped count).
    """

    def __init__(self, object_list, per_page, orphans=0, allow_empty_first_page=True):
        super().__init__(object_list, per_page, orphans, allow_empty_first_page)
        self.count_is_estimate = False
        self.count_is_capped = False

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if _unfiltered(queryset):
            estimate = estimated_rows(queryset.model, queryset.db)
            if estimate is not None and estimate >= EXACT_BELOW:
                self.count_is_estimate = True
                return estimate
            return queryset.count()
        # Counting a LIMITed subquery stops after the cap: a broad filter costs at most
        # COUNT_CAP rows read, a narrow one is exact.
        capped = queryset.order_by()[:COUNT_CAP + 1].count()
        if capped > COUNT_CAP:
            self.count_is_capped = True
            return COUNT_CAP
        return capped

    @property
    def count_label(self) -> str:
        count = self.count
        if self.count_is_estimate:
            return f"about {count:,}"
        if self.count_is_capped:
            return f"more than {count:,}"
        return f"{count:,}"

    def validate_number(self, number):
        # An estimate or a cap may put the true last page beyond num_pages: a page past
        # them is allowed (and may come back short or empty) rather than refused.
        self.count  # noqa: B018 - counted first: it sets the two flags read here
        if self.count_is_estimate or self.count_is_capped:
            try:
                number = int(number)
            except (TypeError, ValueError):
                return super().validate_number(number)
            if 1 <= number <= _LAST_OFFSET // self.per_page:
                return number
            if number >= 1:
                # Past any offset a database takes (a 64-bit integer): no such page.
                raise EmptyPage("That page contains no results")
        return super().validate_number(number)

    def page(self, number) -> Page:
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if not self.count_is_estimate and not self.count_is_capped \
                and top + self.orphans >= self.count:
            top = self.count
        queryset = self.object_list
        if bottom < DEFERRED_FROM:
            return self._get_page(queryset[bottom:top], number, self)
        cursor = PageCursor.of(queryset, self.per_page)
        start = cursor.start_of(number) if cursor is not None else None
        if start is not None:
            # Reached from the page before (or seen before): read from where it starts,
            # by the ordering's index, whatever the depth.
            rows = list(queryset.filter(cursor.from_key(start))[:top - bottom + 1])
        else:
            # The deferred join: the ordering's index yields the page's keys without
            # touching the skipped rows' heap tuples or joins; only the page's rows are
            # read.
            keys = queryset.values("pk")[bottom:top + 1]
            rows = list(queryset.filter(pk__in=keys))
        page_rows, following = rows[:top - bottom], rows[top - bottom:]
        if cursor is not None:
            if page_rows:
                cursor.remember(number, page_rows[0])
            if following:
                cursor.remember(number + 1, following[0])
        return self._get_page(page_rows, number, self)


class PageCursor:
    """Where the pages of one ordered list start, remembered for a while.

    A page read deep in a list leaves behind the sort key of its first row and of the
    row after its last, so the next page (and this one again) is an index range scan
    from that key: `WHERE (name) >= (…) ORDER BY name LIMIT 101`, about a millisecond at
    any depth. Only orderings of plain, non-null columns in one direction qualify
    (name; -placed_at, -id; …); any other is read by the deferred join. Rows added or
    removed since only shift where a page starts, as they would shift an offset.
    """

    TTL = 15 * 60

    def __init__(self, queryset: QuerySet, columns: list[str], descending: bool,
                 signature: str) -> None:
        self.queryset, self.columns, self.descending = queryset, columns, descending
        self.signature = signature

    @classmethod
    def of(cls, queryset: QuerySet, per_page: int) -> PageCursor | None:
        ordering = list(queryset.query.order_by or queryset.model._meta.ordering or [])
        if not ordering or not all(isinstance(term, str) for term in ordering):
            return None
        directions = {term.startswith("-") for term in ordering}
        if len(directions) != 1:
            return None
        columns = []
        for term in ordering:
            name = term.lstrip("-")
            field = queryset.model._meta.pk if name == "pk" else _local_field(queryset, name)
            if field is None or field.null:
                return None
            columns.append(field.attname)
        try:
            sql, params = queryset.query.sql_with_params()
        except Exception:  # an empty result, or a query that cannot be keyed
            return None
        digest = hashlib.sha256(f"{sql}\n{params!r}\n{per_page}".encode()).hexdigest()
        return cls(queryset, columns, directions.pop(), digest)

    def _key(self, number: int) -> str:
        return f"changelist-page:{self.signature}:{number}"

    def start_of(self, number: int) -> tuple | None:
        start = cache.get(self._key(number))
        return tuple(start) if isinstance(start, list | tuple) else None

    def remember(self, number: int, row: models.Model) -> None:
        cache.set(self._key(number), [getattr(row, column) for column in self.columns],
                  self.TTL)

    def from_key(self, start: tuple) -> Q:
        from django.db.models import F
        from django.db.models.fields.tuple_lookups import (
            Tuple,
            TupleGreaterThanOrEqual,
            TupleLessThanOrEqual,
        )

        lookup = TupleLessThanOrEqual if self.descending else TupleGreaterThanOrEqual
        return Q(lookup(Tuple(*(F(column) for column in self.columns)), start))


def _local_field(queryset: QuerySet, name: str):
    try:
        field = queryset.model._meta.get_field(name)
    except Exception:  # a related path, an annotation: not a plain column
        return None
    return field if getattr(field, "concrete", False) else None


# --- search by the shape of the term --------------------------------------------------


@dataclass(frozen=True)
class SearchPlan:
    """Which columns a changelist searches, by kind.

    Each entry is a field path; a path through one relation ("account__email",
    "owner_of__name") is searched with `IN (subquery)` on the related table.

    - `names`: domain-name columns in ASCII (punycode), stored lower-case, searched with
      the ASCII form of the term; `unicode_names` the same names in Unicode, searched
      with its Unicode form when that differs. A term with a dot is the start of a
      name (a prefix), one without a label anywhere in it (a substring); both
      trigram-indexed on PostgreSQL.
    - `emails`: matched whole and case-insensitively (an index on UPPER(email)).
    - `ids`: matched exactly (upstream ids, handles, references).
    - `numbers`: integer columns matched exactly when the term is a number.
    - `words`: free text, each word of the term a case-insensitive substring of one of
      these columns (trigram-indexed on PostgreSQL).
    """

    names: Sequence[str] = ()
    unicode_names: Sequence[str] = ()
    emails: Sequence[str] = ()
    ids: Sequence[str] = ()
    numbers: Sequence[str] = ("pk",)
    words: Sequence[str] = ()

    def help_text(self) -> str:
        kinds = []
        if self.names:
            kinds.append("a domain name or part of one (Unicode or punycode)")
        if self.emails:
            kinds.append("an e-mail address (whole)")
        if self.ids:
            kinds.append("an id (exact)")
        if self.words:
            kinds.append("words")
        return "Search by " + ", ".join(kinds) + "."

    def q(self, model: type[models.Model], term: str) -> Q:
        term = term.strip()
        matches = Q(pk__in=[])
        tokens = _WORD.findall(term)
        if not tokens:
            return Q()
        if len(tokens) == 1:
            token = tokens[0]
            if "@" in token:
                for path in self.emails:
                    matches |= _through(model, path, "iexact", token)
            elif _NAMEISH.match(token):
                matches |= self._name_match(model, token)
            for path in self.ids:
                matches |= _through(model, path, "exact", token)
            if _DIGITS.match(token):
                for path in self.numbers:
                    matches |= _through(model, path, "exact", int(token))
        if self.words and not (len(tokens) == 1 and "@" in tokens[0]):
            every_word = Q()
            for token in tokens:
                any_column = Q(pk__in=[])
                for path in self.words:
                    any_column |= _through(model, path, "icontains", token)
                every_word &= any_column
            matches |= every_word
        return matches

    def _name_match(self, model: type[models.Model], token: str) -> Q:
        ascii_form, unicode_form = _name_forms(token)
        searches = [(path, ascii_form) for path in self.names]
        if unicode_form != ascii_form:
            searches += [(path, unicode_form) for path in self.unicode_names]
        found = Q(pk__in=[])
        for path, form in searches:
            found |= _through(model, path, "startswith" if "." in form else "contains", form)
        return found


def _name_forms(token: str) -> tuple[str, str]:
    """The ASCII and Unicode forms of a typed name or label, lower-case; the token
    itself (lower-cased) where it is no valid name."""
    lowered = token.lower().strip(".")
    try:
        ascii_form = names.to_ascii(lowered, min_labels=1)
    except Exception:  # any name the codec refuses is searched as typed
        ascii_form = lowered
    try:
        unicode_form = names.to_unicode(ascii_form)
    except Exception:
        unicode_form = lowered
    return ascii_form, unicode_form



def _through(model: type[models.Model], path: str, lookup: str, value: Any) -> Q:
    """`path__lookup=value`, with a relation reached by `IN (subquery)` so that a
    reverse relation can never repeat a row."""
    if "__" not in path:
        return Q(**{f"{path}__{lookup}": value})
    relation, rest = path.split("__", 1)
    field = model._meta.get_field(relation)
    related = field.related_model
    # Unordered: the model's default ordering would sort every matching row for nothing.
    inner = related._default_manager.filter(_through(related, rest, lookup, value)).order_by()
    if isinstance(field, ForeignObjectRel):
        # A reverse relation: the rows of `model` that the matching related rows
        # point at.
        return Q(_AnyOf(F("pk"), inner.values(field.field.attname)))
    return Q(_AnyOf(F(field.attname), inner.values("pk")))


class _AnyOf(Lookup):
    """`column IN (subquery)`; on PostgreSQL `column = ANY(ARRAY(subquery))`.

    PostgreSQL runs an `IN (subquery)` that is ORed with other conditions as a hashed
    subplan tested on every row: a sequential scan of the whole table. The ARRAY form is
    evaluated once (an InitPlan) and `= ANY` is an index condition, so the ORed
    alternatives become one BitmapOr of index scans."""

    lookup_name = "any_of"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if connection.vendor == "postgresql":
            return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)
        return f"{lhs} IN {rhs}", (*lhs_params, *rhs_params)


class ScaledListMixin:
    """For a ModelAdmin: the scaled paginator, and `search_plan` instead of Django's
    search over `search_fields` (which stay declared so that the search box shows)."""

    paginator = ScaledPaginator
    show_full_result_count = False
    # Facet counts are a COUNT per filter choice over the whole table.
    show_facets = ShowFacets.NEVER
    search_plan: SearchPlan | None = None

    def get_search_results(self, request, queryset, search_term):
        if self.search_plan is None or not search_term.strip():
            return super().get_search_results(request, queryset, search_term)
        return queryset.filter(self.search_plan.q(queryset.model, search_term)), False
