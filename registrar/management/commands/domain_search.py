"""`manage.py domain_search NAME [--tld TLD…] [--term YEARS] [--format table|csv|json]`:
every upstream's answer for a name, as on the admin's domain search page.

Read-only: it writes nothing, so it has no --dry-run. Exit status: 0 when at least one
upstream answered, 1 when none did (each one's reason is printed), 2 for bad input
(nothing was sent).
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import CommandError, CommandParser

from backoffice.cli import ProjectCommand, check_arguments, write_rows
from registrar.domain_search import (
    Answer,
    AnswerState,
    SearchResult,
    clean_search,
    domain_search,
)
from registrar.money import format_minor
from registrar.operations import InvalidInput
from registrar.providers.base import DomainOffer, Money

HEADER = ("name", "kind", "account", "upstream", "state", "available", "premium",
          "purchase_type", "term_years", "term_price", "term_estimated", "renewal_price",
          "reason", "error", "seconds")
#: The argument each field of the search comes from, as a refusal names it.
OPTIONS = {"name": "name", "tld": "--tld", "years": "--term"}


class Command(ProjectCommand):
    help = ("Ask every upstream that can answer, at once, whether NAME is free and what it "
            "costs for the term, with suggestions. Exit 0: at least one answered; 1: none "
            "did; 2: bad input (nothing sent).")
    admin_surfaces = ("page:admin:domain_search",)

    def execute(self, *args: Any, **options: Any) -> Any:
        # Unreadable text is bad input like any other: exit 2, nothing sent.
        try:
            check_arguments(self, args, options)
        except CommandError as refusal:
            raise CommandError(str(refusal), returncode=2) from None
        return super().execute(*args, **options)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="A full name (bücher.de) or a base name (bücher).")
        parser.add_argument("--tld", action="append", default=[], metavar="TLD", nargs="+",
                            help="TLDs to search the base name in (.de and de both work).")
        parser.add_argument("--term", default="1", metavar="YEARS",
                            help="The term in years, 1 to 10 (default 1).")
        parser.add_argument("--format", choices=["table", "csv", "json"], default="table",
                            dest="output_format")

    def handle(self, *args: Any, name: str, tld: list[list[str]], term: str,
               output_format: str, **options: Any) -> None:
        tlds = [part for group in tld for value in group for part in
                value.replace(",", " ").split()]
        try:
            request = clean_search(name=name, tlds=tlds, years=term)
        except InvalidInput as refusal:
            problems = "; ".join(f"{OPTIONS.get(field, field)}: {' '.join(messages)}"
                                 for field, messages in refusal.field_errors.items())
            raise CommandError(f"Nothing was asked. {problems}", returncode=2) from None
        result = domain_search(request)
        rows = list(_rows(result))
        if output_format == "json":
            self.stdout.write(json.dumps(_json(result), indent=2, ensure_ascii=False))
        elif output_format == "csv":
            write_rows(self.stdout, HEADER, rows, output_format)
        else:
            self._table(rows)
        answered = sum(1 for a in result.answers if a.state is AnswerState.ANSWERED)
        summary = (f"{len(result.sources)} upstream account(s) asked, {answered} of "
                   f"{len(result.answers)} answer(s) came back.")
        if not result.answered_any:
            raise CommandError(f"No upstream answered. {summary}", returncode=1)
        if output_format == "table":
            self.stdout.write(summary)
        else:
            self.stderr.write(summary)

    def _table(self, rows: list[tuple[str, ...]]) -> None:
        shown = [(r[0], r[1], r[2], _state_text(r), r[9], r[11], r[12] or r[13]) for r in rows]
        header = ("name", "kind", "account", "answer", "term price", "renewal/yr", "note")
        widths = [max(len(str(x)) for x in column) for column in zip(header, *shown,
                                                                        strict=False)]
        for line in (header, *shown):
            self.stdout.write("  ".join(str(cell).ljust(width)
                                        for cell, width in zip(line, widths, strict=True))
                              .rstrip())


def _state_text(row: tuple[str, ...]) -> str:
    state, available = row[4], row[5]
    if state != AnswerState.ANSWERED:
        return state.replace("_", " ")
    if row[1] in {"zone_hint", "list_price"}:
        return "answered"  # a hint or a list price: the note says which, never availability
    premium = " premium" if row[6] == "yes" else ""
    kind = f" {row[7]}" if row[7] and row[7] != "registration" else ""
    return {"yes": "available", "no": "not available", "": "not stated"}[available] \
        + premium + kind


def _money(money: Money | None) -> str:
    return format_minor(money.amount_minor, money.currency) if money else ""


def _flag(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


def _row(name: str, kind: str, answer: Answer, offer: DomainOffer | None) -> tuple[str, ...]:
    return (
        name, kind, answer.source.label, answer.source.kind, answer.state.value,
        _flag(offer.available) if offer else "", _flag(offer.premium) if offer else "",
        offer.purchase_type if offer else "",
        str(offer.term_years or "") if offer else "",
        _money(offer.term_price) if offer else "",
        _flag(offer.term_estimated) if offer and offer.term_price else "",
        _money(offer.renewal_price) if offer else "",
        offer.reason if offer else "",
        answer.status_text if answer.state is not AnswerState.ANSWERED else "",
        f"{answer.elapsed_seconds:.2f}",
    )


def _hint_row(name: str, answer: Answer) -> tuple[str, ...]:
    """A zone-check answer: "available" stays empty, it is a hint, never availability."""
    row = list(_row(name, "zone_hint", answer, None))
    if answer.state is AnswerState.ANSWERED:
        free = answer.hint.free_in_zone if answer.hint else None
        row[12] = ("not zone-checked" if free is None else
                   "not in the DNS zone: may be free (a hint, not availability)" if free
                   else "in the DNS zone: probably taken (a hint, not availability)")
    return tuple(row)


def _list_price_row(name: str, answer: Answer) -> tuple[str, ...]:
    """A TLD list price: the TLD's standard price, never this name's own."""
    row = list(_row(name, "list_price", answer, None))
    price = answer.list_price
    if answer.state is AnswerState.ANSWERED:
        row[8] = str(price.years) if price else ""
        row[9] = _money(price.registration) if price else ""
        row[11] = _money(price.renewal) if price else ""
        row[12] = (f"list price of .{price.tld}, not this name's price" if price
                   else "no list price for this TLD")
    return tuple(row)


def _rows(result: SearchResult):
    for name in result.names:
        for answer in name.answers:
            yield _row(name.domain, "name", answer, answer.offer)
        for answer in name.hints:
            yield _hint_row(name.domain, answer)
        for answer in name.list_prices:
            yield _list_price_row(name.domain, answer)
    for group in result.suggestions:
        if group.answer.state is not AnswerState.ANSWERED:
            yield _row(result.request.base, "suggestions", group.answer, None)
            continue
        for offer in group.offers:
            yield _row(offer.domain, "suggestion", group.answer, offer)


def _offer_json(offer: DomainOffer | None) -> dict[str, Any] | None:
    if offer is None:
        return None

    def money(value: Money | None) -> dict[str, Any] | None:
        return None if value is None else {"amount_minor": value.amount_minor,
                                           "currency": value.currency}

    return {"domain": offer.domain, "available": offer.available, "premium": offer.premium,
            "purchase_type": offer.purchase_type or None, "term_years": offer.term_years,
            "term_price": money(offer.term_price), "term_estimated": offer.term_estimated,
            "renewal_price": money(offer.renewal_price), "reason": offer.reason or None,
            "notes": list(offer.notes)}


def _answer_json(answer: Answer) -> dict[str, Any]:
    return {"account": answer.source.label, "upstream": answer.source.kind,
            "state": answer.state.value,
            "error": answer.status_text if answer.state is not AnswerState.ANSWERED else None,
            "error_code": answer.error_code or None,
            "seconds": round(answer.elapsed_seconds, 3),
            "answered_at": answer.answered_at.isoformat() if answer.answered_at else None}


def _list_price_json(answer: Answer) -> dict[str, Any] | None:
    price = answer.list_price
    if price is None:
        return None

    def money(value: Money | None) -> dict[str, Any] | None:
        return None if value is None else {"amount_minor": value.amount_minor,
                                           "currency": value.currency}

    return {"tld": price.tld, "years": price.years,
            "registration": money(price.registration), "renewal": money(price.renewal),
            "transfer": money(price.transfer)}


def _json(result: SearchResult) -> dict[str, Any]:
    return {
        "base": result.request.base, "years": result.request.years,
        "tlds": list(result.request.tlds), "asked_at": result.asked_at.isoformat(),
        "accounts": [s.label for s in result.sources],
        "names": [{"domain": name.domain, "answers": [
            {**_answer_json(a), "offer": _offer_json(a.offer)} for a in name.answers],
            # A first hint only, never availability; and the TLD's list price, never
            # this name's own.
            "zone_hints": [{**_answer_json(a), "free_in_zone": a.hint.free_in_zone
                            if a.hint else None} for a in name.hints],
            "list_prices": [{**_answer_json(a), "list_price": _list_price_json(a)}
                            for a in name.list_prices]}
            for name in result.names],
        "suggestions": [{**_answer_json(g.answer),
                         "offers": [_offer_json(o) for o in g.offers]}
                        for g in result.suggestions],
    }
