"""The dashboard at scale: the same sections and figures as counted plainly, each count
capped ("999+") and read by a LIMITed query, and "my actions" from the user's own rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from backoffice import cockpit
from billing.finance.attention import needing_attention
from billing.models import OrderStatus
from contacts.models import Contact, VerificationState
from registrar.deadlines import expiring_within
from registrar.models import Process, Registration
from tests.factories import (
    ContactFactory,
    OrderFactory,
    ProcessFactory,
    RegistrationFactory,
    UserFactory,
    staff_action,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def root(client):
    user = UserFactory(username="root", is_superuser=True)
    client.force_login(user)
    client.user = user
    return client


def _some_of_everything():
    now = timezone.now()
    for days in (3, 20, 60, 200):
        RegistrationFactory(expires_at=now + timedelta(days=days))
    RegistrationFactory(transfer_out_pending=True)
    RegistrationFactory(pending_async=True)
    RegistrationFactory(missing_upstream_at=now)
    RegistrationFactory(unsettled_operation="renew", unsettled_since=now)
    ContactFactory(verification_state=VerificationState.PENDING,
                   verification_due_at=now + timedelta(days=3))
    ProcessFactory(stuck=True, is_terminal=False)
    OrderFactory(status=OrderStatus.REFUNDED, refunded_minor=0)
    OrderFactory(status=OrderStatus.PAYMENT_SUCCESSFUL, placed_at=now - timedelta(days=1))


def _plain_counts(now) -> dict[str, int]:
    """Each section's count as a plain COUNT(*) of its whole set."""
    counts = {
        "transfer_out": Registration.objects.filter(transfer_out_pending=True).count(),
        "verification": Contact.objects.filter(
            verification_state=VerificationState.PENDING).count(),
        "unknown": Registration.objects.exclude(unsettled_operation="").count(),
        "stuck": Process.objects.filter(stuck=True, is_terminal=False).count(),
        "orders": needing_attention(now).count(),
    }
    for days in (7, 30, 90):
        counts[f"expiring_{days}"] = expiring_within(days, now=now).count()
    return counts


def test_the_dashboard_shows_the_same_sections_and_counts_as_plain_counts(root):
    _some_of_everything()
    response = root.get(reverse("admin:index"))
    assert response.status_code == 200
    shown = {section.key: section.count for section in response.context["deadlines"]}
    plain = _plain_counts(timezone.now())
    assert {key: shown[key] for key in plain} == plain
    assert set(shown) == set(plain) | {"approvals"}
    cards = {card["label"]: card["value"] for card in response.context["dashboard"]}
    assert cards["Processes in flight"] == 1
    assert cards["No longer returned by the registrar"] == 1
    assert cards["Orders needing attention"] == 2


def test_every_count_is_capped_and_says_so(root, monkeypatch):
    monkeypatch.setattr(cockpit, "COUNT_CAP", 2)
    for _ in range(3):
        RegistrationFactory(transfer_out_pending=True, pending_async=True)
    response = root.get(reverse("admin:index"))
    section = next(s for s in response.context["deadlines"] if s.key == "transfer_out")
    assert section.count == 3 and section.count_label == "2+"
    html = response.content.decode()
    assert '<span class="deadline-count">2+</span>' in html
    cards = {card["label"]: card["value"] for card in response.context["dashboard"]}
    assert cards["Processes in flight"] == "2+"


def test_each_dashboard_count_reads_at_most_the_cap(root):
    _some_of_everything()
    with CaptureQueriesContext(connection) as queries:
        assert root.get(reverse("admin:index")).status_code == 200
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()
              and ("registrar_" in q["sql"] or "billing_" in q["sql"]
                   or "contacts_" in q["sql"])]
    assert counts
    for sql in counts:
        assert f"LIMIT {cockpit.COUNT_CAP + 1}" in sql, sql
    assert not any("FILTER (WHERE" in q["sql"] or "CASE WHEN" in q["sql"]
                   for q in queries.captured_queries if "registrar_registration" in q["sql"])


def test_my_actions_are_the_users_own_newest_first(root):
    other = UserFactory(username="someone-else")
    mine = [staff_action(actor=root.user, action=f"registration.lock{n}") for n in range(3)]
    staff_action(actor=other, action="registration.unlock")
    staff_action(actor=None, actor_label="sync", action="registration.sync")
    actions = cockpit.recent_actions(root.user)
    assert [action.message for action in actions] == [row.action for row in reversed(mine)]
