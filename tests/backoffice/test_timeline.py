"""A registration's timeline joins what every app knows of it, newest first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from backoffice import audit, timeline
from backoffice.models import Note, StaffAction
from backoffice.notes import NoteRefused, add_note
from billing.models import Order, WebhookEvent
from registrar.models import Process
from tests.factories import (
    OrderFactory,
    ProcessFactory,
    ProcessLogEntryFactory,
    RegistrationFactory,
    WebhookEventFactory,
)


def _audit_at(when, **fields) -> StaffAction:
    row = audit.build(outcome="succeeded", **fields)
    row.created_at = when
    row.save()
    return row


@pytest.fixture
def history(db, support_user):
    """One registration with one of each kind of entry, an hour apart, oldest first."""
    registration = RegistrationFactory(name="history.com")
    start = timezone.now() - timedelta(hours=10)
    _audit_at(start, actor=support_user, action="registration.lock", target=registration,
              parameters={"changes": {"locked": {"old": False, "new": True}}},
              message="history.com is locked.")
    process = ProcessFactory(registration=registration, action="update_nameservers")
    Process.objects.filter(pk=process.pk).update(created_at=start + timedelta(hours=1))
    ProcessLogEntryFactory(process=process, message="Registry accepted the change")
    order = OrderFactory(registration=registration, domain="history.com",
                         placed_at=start + timedelta(hours=2))
    _audit_at(start + timedelta(hours=3), actor=None, actor_label="sync",
              action="registration.sync_updated", target=registration,
              parameters={"changes": {"auto_renew": [True, False]}},
              message="Sync: history.com updated (auto_renew).")
    WebhookEventFactory(order=order, received_at=start + timedelta(hours=4))
    note = add_note(target=registration, text="Customer called about renewal.",
                    actor=support_user)
    Note.objects.filter(pk=note.pk).update(created_at=start + timedelta(hours=5))
    return registration


def test_support_sees_all_six_kinds_newest_first(history, support_user):
    page = timeline.build(history, support_user)
    kinds = [entry.kind for entry in page.entries]
    # The note's own audit row ("note.added") is the newest staff action.
    assert kinds == ["audit", "note", "webhook", "sync", "order", "process", "audit"]
    lock = page.entries[-1]
    assert lock.changes == (timeline.Change("locked", "False", "True"),)
    sync = page.entries[3]
    assert sync.changes == (timeline.Change("auto_renew", "True", "False"),)
    assert page.entries[5].lines == ("Registry accepted the change",)
    assert page.entries[1].detail == "Customer called about renewal."
    # Support may not open the audit list, so audit entries link nowhere; the order and
    # the process link to their pages.
    assert lock.url == ""
    assert page.entries[4].url.endswith(f"/billing/order/{Order.objects.get().pk}/change/")
    assert page.entries[5].url.endswith(f"/registrar/process/{Process.objects.get().pk}/change/")


def test_the_timeline_filters_by_kind_and_pages(history, support_user):
    page = timeline.build(history, support_user, kinds=["sync", "order"])
    assert [entry.kind for entry in page.entries] == ["sync", "order"]
    first = timeline.build(history, support_user, per_page=3)
    second = timeline.build(history, support_user, per_page=3, page=2)
    third = timeline.build(history, support_user, per_page=3, page=3)
    assert (first.has_next, second.has_next, third.has_next) == (True, True, False)
    assert [e.kind for e in first.entries + second.entries + third.entries] == [
        e.kind for e in timeline.build(history, support_user).entries]
    assert timeline.build(history, support_user, kinds=["nonsense"]).kinds == frozenset(
        timeline.KINDS)


def test_what_a_role_may_not_see_is_not_on_its_timeline(history, finance_user,
                                                         plain_staff_user):
    finance = {entry.kind for entry in timeline.build(history, finance_user).entries}
    assert "process" not in finance and {"order", "webhook", "audit"} <= finance
    assert {entry.kind for entry in timeline.build(history, plain_staff_user).entries} <= {
        "audit", "sync"}


def test_an_account_timeline_holds_its_orders_and_notes(db, support_user):
    order = OrderFactory()
    add_note(target=order.account, text="Prefers e-mail.", actor=support_user)
    kinds = [entry.kind for entry in timeline.build(order.account, support_user).entries]
    assert sorted(kinds) == ["audit", "note", "order"]
    assert WebhookEvent.objects.count() == 0


@pytest.mark.parametrize("text", ["", "   ", "a\u202eb", "nul\x00", "x" * 2001])
def test_a_note_that_breaks_the_text_rule_is_refused_and_not_kept(db, support_user, text):
    registration = RegistrationFactory()
    with pytest.raises(NoteRefused) as refused:
        add_note(target=registration, text=text, actor=support_user)
    assert list(refused.value.field_errors) == ["text"]
    assert not Note.objects.exists() and not StaffAction.objects.exists()


def test_only_staff_with_the_permission_add_notes(db, plain_staff_user):
    with pytest.raises(PermissionDenied):
        add_note(target=RegistrationFactory(), text="hello", actor=plain_staff_user)
    assert not Note.objects.exists()
