"""The domain search page: one name, every upstream's answer, one table per TLD.

A GET form (it reads only): the search runs when a name is given, and every answer row
of an upstream that takes domain orders links into the customer's existing order form
(quote, then confirm) with the name, the registrar account and the term filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlencode

from django import forms
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from backoffice.forms import TextRuleForm
from registrar import domain_search
from registrar.domain_search import Answer, AnswerState, SearchResult
from registrar.money import format_minor
from registrar.operations import InvalidInput

ORDER_PERMISSION = "billing.place_order"
#: TLDs listed under the field as a reminder of what can be searched.
LISTED_TLDS = 40


class DomainSearchForm(TextRuleForm, forms.Form):
    name = forms.CharField(
        max_length=253, required=False, label="Name",
        help_text="A full name (bücher.de) or a base name (bücher) with TLDs below.",
        widget=forms.TextInput(attrs={"autofocus": True, "spellcheck": "false",
                                      "autocomplete": "off"}))
    tld = forms.CharField(
        max_length=400, required=False, label="TLDs",
        help_text="Separated by spaces or commas, e.g. com net de.")
    years = forms.TypedChoiceField(coerce=int, initial=1, label="Term (years)",
                                   choices=[(n, n) for n in range(domain_search.MIN_YEARS,
                                                                  domain_search.MAX_YEARS + 1)],
                                   required=False)
    customer = forms.CharField(
        max_length=254, required=False, label="For customer",
        help_text="Their e-mail address or customer reference: each row then links to "
                  "their order form. Optional.")

    def clean_years(self) -> int:
        # An empty or missing term is the default one year; anything else is checked by
        # the choices (and by the search itself).
        return self.cleaned_data.get("years") or 1

    def clean_customer(self):
        from billing.models import Account

        text = self.cleaned_data["customer"].strip()
        if not text:
            return None
        account = Account.objects.filter(
            Q(customer_reference=text) | Q(email__iexact=text)).order_by("pk").first()
        if account is None:
            raise forms.ValidationError("No customer has this e-mail address or reference.")
        return account


@dataclass(frozen=True)
class Row:
    """One answer as the table shows it."""

    answer: Answer
    availability: str
    kind: str
    price: str
    renewal: str
    notes: tuple[str, ...]
    order_url: str
    # TLD Pricing's list price where this row read no exact price, with its own source.
    list_price: str = ""
    list_price_source: str = ""


@dataclass(frozen=True)
class HintRow:
    """A zone-check answer: a first hint that is never shown as availability."""

    answer: Answer
    text: str


def _hint_text(answer: Answer) -> str:
    if answer.state is not AnswerState.ANSWERED:
        return answer.status_text
    if answer.hint is None or answer.hint.free_in_zone is None:
        return "not checked (left out of the zone check)"
    if answer.hint.free_in_zone:
        return "not in the DNS zone: may be free (a hint, not availability)"
    return "in the DNS zone: probably taken (a hint, not availability)"


def _answered_text(answer: Answer) -> str:
    """Source and age, as every answer shows them."""
    text = f"{answer.source.display_name} ({answer.source.kind})"
    if answer.state is AnswerState.ANSWERED:
        text += f", just now, in {answer.elapsed_seconds:.2f} s"
    return text


def _list_price(answers: tuple[Answer, ...], source_pk: int) -> tuple[str, str]:
    for answer in answers:
        price = answer.list_price
        if answer.source.pk != source_pk or price is None or price.registration is None:
            continue
        text = f"{format_minor(price.registration.amount_minor, price.registration.currency)}"
        return (f"{text} (list price, .{price.tld}, {price.years} year"
                f"{'s' if price.years != 1 else ''})",
                f"TLD Pricing, {_answered_text(answer)}")
    return "", ""


def _availability(answer: Answer) -> str:
    if answer.state is not AnswerState.ANSWERED:
        return answer.status_text
    offer = answer.offer
    if offer is None or offer.available is None:
        return "not stated"
    if offer.available:
        return "available"
    return f"not available ({offer.reason})" if offer.reason else "not available"


def _kind(answer: Answer) -> str:
    offer = answer.offer
    if offer is None:
        return ""
    words = []
    if offer.purchase_type and offer.purchase_type != "registration":
        words.append(offer.purchase_type.replace("_", " "))
    if offer.premium:
        words.append("premium")
    elif offer.premium is False and not words:
        words.append("standard")
    return ", ".join(words)


def _money(money, *, estimated: bool = False) -> str:
    if money is None:
        return ""
    text = format_minor(money.amount_minor, money.currency)
    return f"≈ {text} (estimated)" if estimated else text


def _order_url(answer: Answer, domain: str, years: int, customer, may_order: bool) -> str:
    offer = answer.offer
    if (customer is None or not may_order or not answer.source.sells or offer is None
            or not offer.available):
        return ""
    query = urlencode({"action": "register", "domain": domain,
                       "provider_account": answer.source.pk, "years": years})
    return f"{reverse('admin:billing_account_domain_order', args=[customer.pk])}?{query}"


def _row(answer: Answer, domain: str, years: int, customer, may_order: bool) -> Row:
    offer = answer.offer
    return Row(answer=answer, availability=_availability(answer), kind=_kind(answer),
               price=_money(offer.term_price, estimated=offer.term_estimated) if offer else "",
               renewal=_money(offer.renewal_price) if offer else "",
               notes=offer.notes if offer else (),
               order_url=_order_url(answer, domain, years, customer, may_order))


def _with_list_price(row: Row, list_prices: tuple[Answer, ...]) -> Row:
    if row.price:  # an exact price was read: the list price would only mislead
        return row
    text, source = _list_price(list_prices, row.answer.source.pk)
    return replace(row, list_price=text, list_price_source=source) if text else row


def _tables(result: SearchResult, customer, may_order: bool) -> dict:
    years = result.request.years
    names = [{"name": name,
              "rows": [_with_list_price(_row(a, name.domain, years, customer, may_order),
                                        name.list_prices)
                       for a in name.answers],
              "hints": [HintRow(answer=a, text=_hint_text(a)) for a in name.hints]}
             for name in result.names]
    suggestions = [{"answer": group.answer,
                    "rows": [_row(Answer(source=group.answer.source, state=AnswerState.ANSWERED,
                                         offer=offer, answered_at=group.answer.answered_at),
                                  offer.domain, years, customer, may_order)
                             for offer in group.offers]}
                   for group in result.suggestions]
    return {"names": names, "suggestion_groups": suggestions}


def domain_search_view(request: HttpRequest, site) -> HttpResponse:
    """The form; with a name, the search and every upstream's answer."""
    if not request.user.has_perm(domain_search.SEARCH_PERMISSION):
        raise PermissionDenied
    from registrar.models import Tld

    asked = "name" in request.GET
    form = DomainSearchForm(request.GET if asked else None)
    result = None
    tables: dict = {}
    customer = None
    if asked and form.is_valid():
        data = form.cleaned_data
        customer = data["customer"]
        try:
            search = domain_search.clean_search(name=data["name"], tlds=data["tld"],
                                                years=data["years"])
        except InvalidInput as refusal:
            for field_name, messages in refusal.field_errors.items():
                form.add_error(field_name if field_name in form.fields else None, messages)
        else:
            result = domain_search.domain_search(search)
            tables = _tables(result, customer,
                             request.user.has_perm(ORDER_PERMISSION))
    known = list(Tld.objects.order_by("name").values_list("name", flat=True)[:LISTED_TLDS + 1])
    return TemplateResponse(request, "admin/registrar/domain_search.html", {
        **site.each_context(request),
        "title": "Domain search",
        "form": form,
        "result": result,
        "customer": customer,
        "may_order": request.user.has_perm(ORDER_PERMISSION),
        "limit": _limit_text(),
        "known_tlds": known[:LISTED_TLDS],
        "more_tlds": len(known) > LISTED_TLDS,
        "no_upstream": result is not None and not result.sources,
        **tables,
    })


def _limit_text() -> str:
    from django.conf import settings

    return f"{float(settings.DOMAIN_SEARCH_TIMEOUT_SECONDS):g} s"
