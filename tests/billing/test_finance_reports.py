"""Finance reports: an order's detail timeline, the needs-attention report, the revenue
chart, and the dashboard figure that points at the report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice import audit
from billing.models import LedgerEntry, OrderStatus
from tests.factories import (
    LedgerEntryFactory,
    OrderFactory,
    OrderItemFactory,
    RegistrationFactory,
    UserFactory,
    WebhookEventFactory,
)

SVG = "{http://www.w3.org/2000/svg}"
PAYMENT, REFUND = LedgerEntry.Kind.PAYMENT, LedgerEntry.Kind.REFUND
PENDING, SUCCEEDED = LedgerEntry.State.PENDING, LedgerEntry.State.SUCCEEDED


def utc(year, month, day, hour=12, minute=0):
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def staff_action_at(when, **fields):
    row = audit.build(**fields)
    row.created_at = when
    row.save()
    return row


@pytest.fixture
def finance_client(client, finance_user):
    client.force_login(finance_user)
    return client


# --- access ---------------------------------------------------------------------------


@pytest.mark.parametrize("name, args", [("finance:order", None), ("finance:attention", []),
                                        ("finance:revenue_chart", [])])
def test_support_is_refused_every_report(client, support_user, name, args):
    order = OrderFactory()
    client.force_login(support_user)
    response = client.get(reverse(name, args=[order.pk] if args is None else args))
    assert response.status_code == 403


def test_an_unknown_order_is_a_404(finance_client):
    response = finance_client.get(reverse("finance:order", args=[987654]))
    assert response.status_code == 404


# --- order detail -----------------------------------------------------------------------


@pytest.fixture
def reviewed_order(db):
    t0 = utc(2025, 3, 1, 10)
    placer = UserFactory(username="placer")
    registration = RegistrationFactory(name="timeline.com")
    registration.upstream_created_at = t0 + timedelta(minutes=2)
    registration.save(update_fields=["upstream_created_at"])
    order = OrderFactory(domain="timeline.com", placed_at=t0, placed_by=placer,
                         registration=registration, quoted_total_minor=1299,
                         total_minor=1399, currency="EUR", status=OrderStatus.REGISTERED)
    OrderItemFactory(order=order, description="Registration timeline.com",
                     unit_amount_minor=1299, total_minor=1299)
    LedgerEntryFactory(order=order, kind=PAYMENT, state=SUCCEEDED, amount_minor=1399,
                       currency="EUR", external_reference="pi_timeline",
                       occurred_at=t0 + timedelta(minutes=1))
    WebhookEventFactory(order=order, event_type="domain_purchase.completed",
                        outcome="applied", received_at=t0 + timedelta(minutes=3))
    staff_action_at(t0 + timedelta(minutes=4), actor=placer, action="order.adjust",
                    target=order, outcome="succeeded",
                    parameters={"auth_code": "SECRET-EPP-CODE", "note": "goodwill"})
    pending = LedgerEntryFactory(order=order, kind=REFUND, state=PENDING, amount_minor=200,
                                 currency="EUR", external_reference="re_timeline",
                                 occurred_at=t0 + timedelta(minutes=5))
    LedgerEntryFactory(order=order, kind=REFUND, state=SUCCEEDED, amount_minor=200,
                       currency="EUR", external_reference="re_timeline_done",
                       settles=pending, occurred_at=t0 + timedelta(days=2))
    return order


def test_the_detail_shows_facts_items_and_a_timeline_in_time_order(finance_client,
                                                                   reviewed_order):
    response = finance_client.get(reverse("finance:order", args=[reviewed_order.pk]))
    assert response.status_code == 200
    timeline = response.context["timeline"]
    assert [event.kind for event in timeline] == [
        "placed", "payment", "registration", "webhook", "staff_action", "refund", "refund"]
    assert [event.at for event in timeline] == sorted(event.at for event in timeline)
    placed, payment, registration, webhook, action, pending, settled = timeline
    assert placed.who == "placer"
    assert payment.outcome == "Succeeded" and payment.amount == "13.99 EUR"
    assert "Reference pi_timeline" in payment.details
    assert registration.title == "Registration created at the registrar"
    assert webhook.title == "Upstream event domain_purchase.completed"
    assert webhook.outcome == "applied"
    assert webhook.url == reverse("admin:billing_webhookevent_change",
                                  args=[reviewed_order.webhook_events.get().pk])
    assert (action.who, action.title, action.outcome) == (
        "placer", "Action order.adjust", "Succeeded")
    # The pending refund says it was settled later, and the settling entry points back.
    assert pending.outcome == "Pending"
    assert any(line.startswith("Settled 2025-03-03") for line in pending.details)
    assert settled.outcome == "Succeeded"
    assert "Settles the pending refund of 2025-03-01 10:05" in settled.details

    html = response.content.decode()
    assert "SECRET-EPP-CODE" not in html and "***" in html
    for text in ("pi_timeline", "re_timeline_done", "Registration timeline.com",
                 "12.99 EUR", "13.99 EUR", "+1.00 EUR", webhook.url):
        assert text in html
    assert dict(response.context["money"])["Charged minus quoted"] == "+1.00 EUR"


def test_a_mirrored_order_without_registration_or_placer_dates_nothing_it_lacks(
        finance_client):
    order = OrderFactory(status=OrderStatus.REGISTERED, placed_by=None)
    response = finance_client.get(reverse("finance:order", args=[order.pk]))
    assert [event.kind for event in response.context["timeline"]] == ["placed"]
    assert "mirrored" in response.context["timeline"][0].who


def _detail_queries(client, order) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("finance:order", args=[order.pk])).status_code == 200
    return len(queries)


def test_the_detail_runs_a_constant_number_of_queries(finance_client):
    small, large = OrderFactory(), OrderFactory()
    for order, count in ((small, 1), (large, 4)):
        for number in range(count):
            OrderItemFactory(order=order)
            LedgerEntryFactory(order=order)
            WebhookEventFactory(order=order)
            staff_action_at(timezone.now(), actor=None, actor_label="system",
                            action=f"order.touch{number}", target=order, outcome="succeeded")
    _detail_queries(finance_client, small)  # warm the session and permission caches
    assert _detail_queries(finance_client, small) == _detail_queries(finance_client, large)


# --- needs attention ----------------------------------------------------------------------


def _attention(client) -> dict[str, list[int]]:
    response = client.get(reverse("finance:attention"))
    assert response.status_code == 200
    return {table.section.key: [row["order"].pk for row in table.rows]
            for table in response.context["tables"]}


def test_charged_orders_count_as_undelivered_only_after_the_delay(finance_client, settings):
    settings.FINANCE_UNDELIVERED_AFTER_MINUTES = 60
    now = timezone.now()
    old = OrderFactory(status=OrderStatus.PAYMENT_SUCCESSFUL,
                       placed_at=now - timedelta(hours=2))
    OrderFactory(status=OrderStatus.REGISTRATION_IN_PROGRESS,
                 placed_at=now - timedelta(minutes=10))  # recent
    OrderFactory(status=OrderStatus.REGISTERED, placed_at=now - timedelta(days=3))  # delivered
    assert _attention(finance_client)["undelivered"] == [old.pk]
    response = finance_client.get(reverse("finance:attention"))
    assert "1 hour" in response.content.decode()
    assert reverse("finance:order", args=[old.pk]) in response.content.decode()

    settings.FINANCE_UNDELIVERED_AFTER_MINUTES = 180
    assert _attention(finance_client)["undelivered"] == []


def test_failed_deliveries_are_listed_until_the_ledger_refunds_the_payment(finance_client):
    unrefunded = OrderFactory(status=OrderStatus.FAILED)
    LedgerEntryFactory(order=unrefunded, amount_minor=1399)
    partly = OrderFactory(status=OrderStatus.TRANSFER_FAILED)
    LedgerEntryFactory(order=partly, amount_minor=1399)
    LedgerEntryFactory(order=partly, kind=REFUND, amount_minor=399)
    refunded = OrderFactory(status=OrderStatus.FAILED, refunded_minor=1399)
    LedgerEntryFactory(order=refunded, amount_minor=1399)
    LedgerEntryFactory(order=refunded, kind=REFUND, amount_minor=1399)
    OrderFactory(status=OrderStatus.FAILED)  # failed before any charge

    response = finance_client.get(reverse("finance:attention"))
    table = next(t for t in response.context["tables"] if t.section.key == "failed-unrefunded")
    assert sorted(row["order"].pk for row in table.rows) == sorted([unrefunded.pk, partly.pk])
    owed = {row["order"].pk: row["cells"][-1] for row in table.rows}
    assert owed == {unrefunded.pk: "13.99 USD", partly.pk: "10.00 USD"}


def test_a_pending_refund_is_listed_until_a_later_entry_settles_it(finance_client):
    waiting = OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=500)
    LedgerEntryFactory(order=waiting, kind=REFUND, state=PENDING, amount_minor=500)
    settled = OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=500)
    asked = LedgerEntryFactory(order=settled, kind=REFUND, state=PENDING, amount_minor=500)
    LedgerEntryFactory(order=settled, kind=REFUND, state=SUCCEEDED, amount_minor=500,
                       settles=asked)
    response = finance_client.get(reverse("finance:attention"))
    table = next(t for t in response.context["tables"] if t.section.key == "refunds-pending")
    assert [row["order"].pk for row in table.rows] == [waiting.pk]
    assert table.rows[0]["cells"][0] == "5.00 USD"


def test_price_mismatches_show_quoted_charged_and_difference(finance_client):
    mismatch = OrderFactory(quoted_total_minor=1299, total_minor=1399)
    OrderFactory(quoted_total_minor=1399, total_minor=1399)  # as quoted
    OrderFactory(quoted_total_minor=1299, total_minor=1399,
                 status=OrderStatus.PAYMENT_FAILED)  # never charged
    OrderFactory(quoted_total_minor=None)  # mirrored, never quoted
    response = finance_client.get(reverse("finance:attention"))
    table = next(t for t in response.context["tables"] if t.section.key == "price-mismatch")
    assert [row["order"].pk for row in table.rows] == [mismatch.pk]
    assert table.rows[0]["cells"] == ["12.99 USD", "13.99 USD", "+1.00 USD"]


def test_refunded_with_nothing_refunded_is_an_inconsistency(finance_client):
    inconsistent = OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=0)
    OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=1399)
    assert _attention(finance_client)["refunded-nothing"] == [inconsistent.pk]


def test_orders_whose_placement_outcome_is_unknown_are_listed_until_settled(finance_client):
    reason = ("No usable answer came back from the registrar (it did not answer in time), "
              "after the request was sent: it may have applied the change.")
    unsettled = OrderFactory(status=OrderStatus.PAYMENT_INITIATED, status_reason=reason,
                             unsettled_since=timezone.now() - timedelta(hours=2, seconds=30))
    OrderFactory(status=OrderStatus.PAYMENT_INITIATED)  # answered: nothing unknown
    response = finance_client.get(reverse("finance:attention"))
    table = next(t for t in response.context["tables"] if t.section.key == "unsettled")
    assert table.section.title == "Placed, outcome unknown"
    assert [row["order"].pk for row in table.rows] == [unsettled.pk]
    assert table.rows[0]["cells"] == ["Payment initiated", "2\xa0hours", reason]
    unsettled.unsettled_since = None  # settled: the upstream said what became of it
    unsettled.save()
    assert _attention(finance_client)["unsettled"] == []


def test_each_section_shows_its_count(finance_client):
    OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=0)
    OrderFactory(status=OrderStatus.PAYMENT_INITIATED, unsettled_since=timezone.now())
    OrderFactory(status=OrderStatus.PAYMENT_INITIATED, unsettled_since=timezone.now())
    response = finance_client.get(reverse("finance:attention"))
    counts = {t.section.key: t.count for t in response.context["tables"]}
    assert counts == {"undelivered": 0, "failed-unrefunded": 0, "refunds-pending": 0,
                      "price-mismatch": 0, "refunded-nothing": 1, "unsettled": 2}
    html = response.content.decode()
    assert 'data-count="1"' in html and 'data-count="2"' in html


# --- dashboard ------------------------------------------------------------------------


def _dashboard(client, user) -> dict[str, dict]:
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return {card["label"]: card for card in response.context["dashboard"]}


def test_finance_sees_the_attention_figure_and_support_does_not(client, finance_user,
                                                                support_user):
    OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=0)
    mismatch = OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=0,
                            quoted_total_minor=1)  # in two sections, counted once
    assert mismatch.pk
    OrderFactory()  # fine
    card = _dashboard(client, finance_user)["Orders needing attention"]
    assert card == {"label": "Orders needing attention", "value": 2,
                    "url": reverse("finance:attention")}
    assert "Orders needing attention" not in _dashboard(client, support_user)


# --- revenue chart ------------------------------------------------------------------------


def _chart(client, params=None):
    response = client.get(reverse("finance:revenue_chart"), params or {})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(response.content)  # noqa: S314 (our own output; raises unless well-formed)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title").text == "Net revenue by month per currency"
    assert root.get("role") == "img" and root.get("aria-labelledby")
    return root


def _bars(root) -> dict[tuple[str, str], str]:
    return {(bar.get("data-currency"), bar.get("data-month")): bar.get("data-net")
            for bar in root.iter(f"{SVG}rect") if bar.get("class") == "bar"}


@pytest.fixture
def revenue(db):
    OrderFactory(currency="EUR", total_minor=1000, placed_at=utc(2025, 1, 10))
    OrderFactory(currency="EUR", total_minor=500, refunded_minor=500,
                 status=OrderStatus.REFUNDED, placed_at=utc(2025, 1, 20))
    OrderFactory(currency="EUR", total_minor=9999, status=OrderStatus.PAYMENT_FAILED,
                 placed_at=utc(2025, 1, 21))  # never charged
    OrderFactory(currency="EUR", total_minor=9999, status=OrderStatus.QUOTED,
                 placed_at=utc(2025, 2, 2))  # a quote: nothing charged
    OrderFactory(currency="EUR", total_minor=2000, refunded_minor=300,
                 status=OrderStatus.PAYMENT_SUCCESSFUL, placed_at=utc(2025, 3, 31, 23, 59))
    OrderFactory(currency="JPY", total_minor=1500, placed_at=utc(2025, 2, 14))


def test_the_chart_draws_net_by_month_per_currency_with_gaps_as_zero(finance_client,
                                                                     revenue):
    root = _chart(finance_client)
    assert _bars(root) == {
        ("EUR", "2025-01"): "10.00", ("EUR", "2025-02"): "0.00", ("EUR", "2025-03"): "17.00",
        ("JPY", "2025-01"): "0", ("JPY", "2025-02"): "1500", ("JPY", "2025-03"): "0",
    }
    panels = [g.get("data-currency") for g in root.iter(f"{SVG}g")
              if g.get("class") == "panel"]
    assert panels == ["EUR", "JPY"]  # one panel, one scale, per currency
    texts = [t.text for t in root.iter(f"{SVG}text")]
    for label in ("Jan 2025", "Feb 2025", "Mar 2025", "EUR", "JPY", "1,500"):
        assert label in texts
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    assert [item.get("data-currency") for item in legend] == ["EUR", "JPY"]


def test_the_chart_follows_the_filters_and_stretches_to_the_date_range(finance_client,
                                                                       revenue):
    root = _chart(finance_client, {"currency": "EUR", "placed_after": "2024-12-01",
                                   "placed_before": "2025-04-15"})
    assert _bars(root) == {
        ("EUR", "2024-12"): "0.00", ("EUR", "2025-01"): "10.00", ("EUR", "2025-02"): "0.00",
        ("EUR", "2025-03"): "17.00", ("EUR", "2025-04"): "0.00",
    }


def test_the_chart_has_an_empty_state(finance_client, revenue):
    root = _chart(finance_client, {"placed_after": "2030-01-01"})
    assert _bars(root) == {}
    assert "No charged orders in this period" in [t.text for t in root.iter(f"{SVG}text")]


def test_only_uncharged_orders_draw_the_empty_state(finance_client):
    OrderFactory(status=OrderStatus.PAYMENT_FAILED)
    root = _chart(finance_client)
    assert _bars(root) == {}


def test_invalid_filters_draw_their_message_escaped(finance_client, revenue):
    root = _chart(finance_client, {"placed_after": "not-a-date",
                                   "currency": "<script>&"})
    assert _bars(root) == {}
    message = root.find(f"{SVG}desc").text
    assert message.startswith("The filters are not valid:")
    assert "<script>&" in message  # escaped in the document, intact once parsed
