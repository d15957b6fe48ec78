"""The domain search: what every upstream that can say answers for a name, side by side.

Given a name (or a base name), the TLDs and a term, every enabled provider account whose
adapter declares DOMAIN_SEARCH is asked at once, on a thread pool: for each name its
availability, premium flag or purchase type, price for the term and renewal price, and
for the base name its suggestions. Each account gets its own time limit
(DOMAIN_SEARCH_TIMEOUT_SECONDS, or the account's own timeout if shorter): the HTTP
client built for the search times out on it, and the search stops waiting for the
account's calls when it has passed, so one upstream that hangs delays the answer by no
more than the limit. An upstream that did not answer, or failed, is reported as such,
never as the name being unavailable.

It reads only: no row is written and nothing is audited (the project audits changes,
not reads); which upstreams were asked, and how each answered, goes to the log.
Answers are not cached, so each is as old as the search.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils import timezone

from registrar.models import ProviderAccount, Tld
from registrar.operations import InvalidInput
from registrar.providers.base import (
    Capability,
    DomainOffer,
    Provider,
    TldListPrice,
    ZoneHint,
)
from registrar.providers.endpoints import TIMEOUT_MAX_SECONDS, TIMEOUT_MIN_SECONDS
from registrar.providers.errors import CallerError, ProviderError
from registrar.providers.registry import build_provider, display_name
from registrar.values.names import intake_name, normalise_tld, to_unicode

logger = logging.getLogger(__name__)

#: Whoever may see the TLDs may ask what they cost where: Support, Finance and Admin.
SEARCH_PERMISSION = "registrar.view_tld"
MIN_YEARS, MAX_YEARS = 1, 10
#: More TLDs than this in one search would be a bulk scan, not a look-up for a customer.
MAX_TLDS = 10
#: Threads of one search: every call of every account at once, up to this many.
MAX_THREADS = 32
#: How the fields of a search are named to staff (the form's labels, the command's options).
FIELD_LABELS = {"name": "Name", "tld": "TLDs", "years": "Term"}


class AnswerState(StrEnum):
    ANSWERED = "answered"
    TIMED_OUT = "timed_out"
    FAILED = "failed"


@dataclass(frozen=True)
class SearchRequest:
    """A search as cleaned: `names` are ASCII (one per TLD), `base` the label the
    suggestions are for."""

    base: str
    names: tuple[str, ...]
    tlds: tuple[str, ...]
    years: int


@dataclass(frozen=True)
class Source:
    """The provider account an answer came from."""

    pk: int
    label: str
    kind: str
    display_name: str
    sells: bool  # it takes domain orders (the quote -> confirm flow)
    limit_seconds: float


@dataclass(frozen=True)
class Answer:
    """One account's answer for one name, or why there is none."""

    source: Source
    state: AnswerState
    offer: DomainOffer | None = None
    error: str = ""
    error_code: str = ""
    elapsed_seconds: float = 0.0
    answered_at: datetime | None = None
    # A zone-check answer (ZONE_CHECK) and a TLD list price (TLD_LIST_PRICES) instead of
    # an offer: `hint`/`list_price` None with ANSWERED means the upstream left the name
    # (or its TLD) out of its answer.
    hint: ZoneHint | None = None
    list_price: TldListPrice | None = None

    @property
    def status_text(self) -> str:
        if self.state is AnswerState.TIMED_OUT:
            return f"did not answer within {self.source.limit_seconds:g} s"
        if self.state is AnswerState.FAILED:
            return f"failed: {self.error}"
        return "answered"


@dataclass(frozen=True)
class NameResult:
    domain: str
    tld: str
    answers: tuple[Answer, ...]
    #: Zone-check answers: a first hint, never availability.
    hints: tuple[Answer, ...] = ()
    #: TLD list-price answers for this name's TLD: never this name's exact price.
    list_prices: tuple[Answer, ...] = ()

    @property
    def unicode(self) -> str:
        return to_unicode(self.domain)


@dataclass(frozen=True)
class Suggestions:
    """One account's suggestions for the base name."""

    answer: Answer
    offers: tuple[DomainOffer, ...] = ()


@dataclass(frozen=True)
class SearchResult:
    request: SearchRequest
    names: tuple[NameResult, ...]
    suggestions: tuple[Suggestions, ...]
    sources: tuple[Source, ...]
    asked_at: datetime = field(default_factory=timezone.now)

    @property
    def answers(self) -> list[Answer]:
        return [a for n in self.names for a in n.answers] + [s.answer for s in self.suggestions]

    @property
    def hint_answers(self) -> list[Answer]:
        return [a for n in self.names for a in (*n.hints, *n.list_prices)]

    @property
    def answered_any(self) -> bool:
        return any(a.state is AnswerState.ANSWERED for a in self.answers)


# --- input -------------------------------------------------------------------------------


def clean_search(*, name: object, tlds: Iterable[object] | object = (),
                 years: object = 1) -> SearchRequest:
    """The search as typed, checked before anything is sent: InvalidInput naming the
    field (name, tld, years) otherwise. A full name brings its own TLD; a base name needs
    at least one TLD given. Every TLD must be one the back-office knows."""
    errors: dict[str, list[str]] = {}
    raw_name = ("" if name is None else str(name)).strip()
    ascii_name = ""
    try:
        ascii_name = intake_name(raw_name, min_labels=1)
    except ValidationError as refusal:
        errors["name"] = list(refusal.messages)
    if isinstance(tlds, str):
        tlds = tlds.replace(",", " ").split()
    wanted: list[str] = []
    for raw in tlds or ():
        try:
            tld = normalise_tld(str(raw))
        except ValidationError as refusal:
            errors.setdefault("tld", []).extend(refusal.messages)
            continue
        if tld not in wanted:
            wanted.append(tld)
    base = ascii_name
    if ascii_name and "." in ascii_name:
        base, own_tld = ascii_name.rsplit(".", 1)
        if own_tld in wanted:
            wanted.remove(own_tld)
        wanted.insert(0, own_tld)
    if ascii_name and not wanted and "tld" not in errors:
        errors["tld"] = ["Choose at least one TLD, or type a full name such as "
                         "example.com."]
    if len(wanted) > MAX_TLDS:
        errors.setdefault("tld", []).append(f"At most {MAX_TLDS} TLDs in one search.")
    known = set(Tld.objects.filter(name__in=wanted).values_list("name", flat=True))
    unknown = [tld for tld in wanted if tld not in known]
    if unknown:
        errors.setdefault("tld", []).append(
            ", ".join(f".{to_unicode(t)}" for t in unknown)
            + (" is" if len(unknown) == 1 else " are") + " not a TLD the back-office knows.")
    term: int | None = None
    text = str(years).strip() if years is not None else ""
    if isinstance(years, int) and not isinstance(years, bool):
        term = years
    elif text.isascii() and text.isdigit() and len(text) < 4:
        term = int(text)
    if term is None or not MIN_YEARS <= term <= MAX_YEARS:
        errors["years"] = [f"A whole number of years from {MIN_YEARS} to {MAX_YEARS}."]
    if errors:
        field_name, messages = next(iter(errors.items()))
        raise InvalidInput(f"Nothing was asked. {FIELD_LABELS[field_name]}: {messages[0]}",
                           field_errors=errors)
    assert term is not None
    return SearchRequest(base=base, names=tuple(f"{base}.{tld}" for tld in wanted),
                         tlds=tuple(wanted), years=term)


# --- the search --------------------------------------------------------------------------


def search_accounts() -> list[ProviderAccount]:
    """The enabled accounts whose upstream can answer a domain search."""
    return list(ProviderAccount.objects.filter(enabled=True)
                .with_capability(Capability.DOMAIN_SEARCH).order_by("label"))


@dataclass(frozen=True)
class _SearchAccount:
    """The account as the registry reads it, with the search's own timeout: the HTTP
    client built from it gives up on a request when the search stops waiting for it."""

    pk: Any
    label: str
    kind: str
    base_url: str
    account_ref: str
    secret_env: str
    timeout_seconds: float
    enabled: bool
    options: dict[str, Any]
    updated_at: datetime | None


def _limit_for(account: ProviderAccount) -> float:
    return max(0.01, min(float(settings.DOMAIN_SEARCH_TIMEOUT_SECONDS),
                         float(account.timeout_seconds)))


def _search_provider(account: ProviderAccount, limit: float) -> Provider:
    timeout = min(max(limit, TIMEOUT_MIN_SECONDS), TIMEOUT_MAX_SECONDS)
    return build_provider(_SearchAccount(
        pk=account.pk, label=account.label, kind=account.kind, base_url=account.base_url,
        account_ref=account.account_ref, secret_env=account.secret_env,
        timeout_seconds=timeout, enabled=account.enabled, options=dict(account.options or {}),
        updated_at=account.updated_at))


def _source(account: ProviderAccount, limit: float) -> Source:
    return Source(pk=account.pk, label=account.label, kind=account.kind,
                  display_name=display_name(account.kind),
                  sells=account.supports(Capability.DOMAIN_ORDERS), limit_seconds=limit)


def _timed(call: Callable[[], Any]) -> Callable[[], tuple[Any, float, datetime]]:
    def run() -> tuple[Any, float, datetime]:
        started = time.monotonic()
        try:
            return call(), time.monotonic() - started, timezone.now()
        finally:
            # A provider may reach the database from this thread (a cache kept there):
            # leave no connection of this short-lived thread open behind it.
            connections.close_all()
    return run


@dataclass
class _Job:
    source: Source
    domain: str | None  # None: the suggestions, or a batch (`what`)
    deadline: float
    future: Future | None = None
    failure: ProviderError | Exception | None = None
    #: "" (an offer, or the suggestions), ZONE or LIST_PRICES: one batch for every name.
    what: str = ""


ZONE, LIST_PRICES = "zone", "list_prices"


def _answer(job: _Job, timed_out: bool) -> tuple[Answer, Any]:
    if job.failure is not None:
        return _failed(job.source, job.failure), None
    assert job.future is not None
    if timed_out or not job.future.done() or job.future.cancelled():
        return Answer(source=job.source, state=AnswerState.TIMED_OUT,
                      elapsed_seconds=job.source.limit_seconds), None
    error = job.future.exception()
    if error is not None:
        return _failed(job.source, error), None
    value, elapsed, at = job.future.result()
    offer = value if isinstance(value, DomainOffer) else None
    return Answer(source=job.source, state=AnswerState.ANSWERED, offer=offer,
                  elapsed_seconds=elapsed, answered_at=at), value


def _failed(source: Source, error: BaseException) -> Answer:
    if isinstance(error, ProviderError):
        return Answer(source=source, state=AnswerState.FAILED, error=error.message,
                      error_code=error.code)
    if isinstance(error, CallerError):
        return Answer(source=source, state=AnswerState.FAILED, error=str(error),
                      error_code="refused")
    if isinstance(error, ValidationError):
        return Answer(source=source, state=AnswerState.FAILED, error=" ".join(error.messages),
                      error_code="refused")
    # Anything else is a fault here, not an answer: logged whole, shown without detail.
    logger.error("domain search: %s raised %r", source.label, error, exc_info=error)
    return Answer(source=source, state=AnswerState.FAILED,
                  error="the back-office could not read its answer", error_code="internal")


def domain_search(request: SearchRequest, *,
                  accounts: Sequence[ProviderAccount] | None = None) -> SearchResult:
    """Ask every searchable account about `request` at once; wait for each no longer
    than its limit. Never raises for an upstream's failure: it is in the answer."""
    accounts = search_accounts() if accounts is None else list(accounts)
    asked_at = timezone.now()
    jobs: list[_Job] = []
    sources: list[Source] = []
    calls: list[tuple[_Job, Callable[[], Any]]] = []
    providers: dict[str, Provider] = {}
    for account in accounts:
        limit = _limit_for(account)
        source = _source(account, limit)
        sources.append(source)
        try:
            provider = _search_provider(account, limit)
        except ProviderError as refusal:
            provider, failure = None, refusal
        else:
            failure = None
            providers[account.label] = provider
        for domain in (*request.names, None):
            job = _Job(source=source, domain=domain, deadline=0.0, failure=failure)
            jobs.append(job)
            if provider is not None:
                calls.append((job, _call_for(provider, request, domain)))
        # The fast hints, asked alongside (same pool, same limit): one batch each.
        for what, capability in ((ZONE, Capability.ZONE_CHECK),
                                 (LIST_PRICES, Capability.TLD_LIST_PRICES)):
            if not account.supports(capability):
                continue
            job = _Job(source=source, domain=None, deadline=0.0, failure=failure, what=what)
            jobs.append(job)
            if provider is not None:
                calls.append((job, _batch_call(provider, request, what)))
    logger.info("domain search for %s (%d year(s), tlds %s): asking %s",
                request.base, request.years, ",".join(request.tlds),
                ", ".join(s.label for s in sources) or "no upstream")
    pool = ThreadPoolExecutor(max_workers=max(1, min(MAX_THREADS, len(calls))),
                              thread_name_prefix="domain-search")
    try:
        _run(pool, calls, providers)
    finally:
        # Never wait for an upstream that hangs: its thread ends when its client's
        # timeout fires, and its client is closed then.
        pool.shutdown(wait=False, cancel_futures=True)
    return _collect(request, jobs, sources, asked_at)


def _call_for(provider: Provider, request: SearchRequest,
              domain: str | None) -> Callable[[], Any]:
    if domain is None:
        return lambda: provider.domain_suggestions(request.base, tlds=request.tlds,
                                                   years=request.years)
    return lambda: provider.domain_offer(domain, years=request.years)


def _batch_call(provider: Provider, request: SearchRequest, what: str) -> Callable[[], Any]:
    if what == ZONE:
        return lambda: provider.zone_check(list(request.names))
    return lambda: provider.tld_list_prices(list(request.tlds), years=request.years)


def _run(pool: ThreadPoolExecutor, calls: list[tuple[_Job, Callable[[], Any]]],
         providers: dict[str, Provider]) -> None:
    left = {label: 0 for label in providers}
    lock = threading.Lock()

    def finished(label: str) -> Callable[[Future], None]:
        def close(_: Future) -> None:
            with lock:
                left[label] -= 1
                last = left[label] == 0
            if last:
                providers[label].close()
        return close

    started = time.monotonic()
    for job, _call in calls:
        job.deadline = started + job.source.limit_seconds
        left[job.source.label] += 1
    for job, call in calls:
        job.future = pool.submit(_timed(call))
        job.future.add_done_callback(finished(job.source.label))
    waiting = {job.future: job for job, _ in calls}
    while waiting:
        now = time.monotonic()
        for future in [f for f, job in waiting.items() if job.deadline <= now]:
            waiting.pop(future)
        if not waiting:
            break
        done, _ = wait(list(waiting), return_when=FIRST_COMPLETED,
                       timeout=max(0.0, min(job.deadline for job in waiting.values()) - now))
        for future in done:
            waiting.pop(future, None)


def _collect(request: SearchRequest, jobs: list[_Job], sources: list[Source],
             asked_at: datetime) -> SearchResult:
    by_name: dict[str, list[Answer]] = {domain: [] for domain in request.names}
    hints: dict[str, list[Answer]] = {domain: [] for domain in request.names}
    list_prices: dict[str, list[Answer]] = {domain: [] for domain in request.names}
    suggestions: list[Suggestions] = []
    asked = set(request.names)
    for job in jobs:
        timed_out = (job.future is not None and not job.future.done())
        answer, value = _answer(job, timed_out)
        _log(job, answer)
        if job.what == ZONE:
            found = {hint.domain: hint for hint in value or ()
                     if isinstance(hint, ZoneHint)}
            for domain in request.names:
                hints[domain].append(replace(answer, hint=found.get(domain)))
            continue
        if job.what == LIST_PRICES:
            by_tld = {price.tld: price for price in value or ()
                      if isinstance(price, TldListPrice)}
            for domain in request.names:
                list_prices[domain].append(replace(
                    answer, list_price=by_tld.get(domain.rsplit(".", 1)[-1])))
            continue
        if job.domain is not None:
            by_name[job.domain].append(answer)
            continue
        offers: list[DomainOffer] = []
        seen: set[str] = set()
        for offer in value or ():
            if offer.domain not in asked and offer.domain not in seen:
                seen.add(offer.domain)
                offers.append(offer)
        suggestions.append(Suggestions(answer=answer, offers=tuple(offers)))
    names = tuple(NameResult(domain=domain, tld=domain.rsplit(".", 1)[-1],
                             answers=tuple(by_name[domain]), hints=tuple(hints[domain]),
                             list_prices=tuple(list_prices[domain]))
                  for domain in request.names)
    return SearchResult(request=request, names=names, suggestions=tuple(suggestions),
                        sources=tuple(sources), asked_at=asked_at)


def _log(job: _Job, answer: Answer) -> None:
    what = job.domain or {ZONE: "zone check", LIST_PRICES: "TLD list prices"}.get(
        job.what, "suggestions")
    if answer.state is AnswerState.ANSWERED:
        logger.info("domain search: %s answered for %s in %.2fs", job.source.label, what,
                    answer.elapsed_seconds)
    elif answer.state is AnswerState.TIMED_OUT:
        logger.warning("domain search: %s did not answer for %s within %gs",
                       job.source.label, what, job.source.limit_seconds)
    else:
        logger.warning("domain search: %s failed for %s (%s)", job.source.label, what,
                       answer.error_code or "error")
