"""What staff see when a change's answer was lost: a warning that it may have been
applied, the registration marked unsettled until it is read again, and the same change
refused meanwhile."""

from __future__ import annotations

import html

from celery.signals import before_task_publish
from django.urls import reverse

from backoffice.models import StaffAction
from registrar.models import Registration
from registrar.tasks import settle_registration
from tests.factories import RegistrationFactory, TldFactory
from tests.faults.transport import Fault, FaultTransport


def test_a_lost_answer_then_a_failed_re_read_leaves_the_change_refused_until_settled(
        client, sandbox, support_user, django_capture_on_commit_callbacks):
    registration = RegistrationFactory(name="lost.com", tld=TldFactory(name="com"),
                                       locked=False)
    sandbox.seed()
    faults = FaultTransport(sandbox.transport.inner)
    sandbox.transport.inner = faults
    guid = registration.upstream_id
    faults.arm(Fault.TIMEOUT_AFTER, method="PATCH", path="/lock$")
    # The re-read fails too (every retry of it).
    faults.arm(Fault.E500_BEFORE, method="GET", path=f"/{guid}$", times=3)
    published = []

    def capture(sender=None, body=None, **kwargs):
        published.append((sender, list(body[0])))

    before_task_publish.connect(capture, weak=False)
    client.force_login(support_user)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("admin:registrar_registration_operation",
                                           args=[registration.pk, "lock"]), {"enabled": "1"},
                                   follow=True)
    finally:
        before_task_publish.disconnect(capture)

    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert 'class="warning"' in response.content.decode()
    assert "it may have applied the change" in page
    assert "could not be read again now" in page
    assert "Nothing was changed" not in page
    assert ("The last transfer lock change may have been applied (no usable answer came "
            "back)") in page  # the summary's unsettled line, and the lock button's reason
    assert 'data-operation="lock" aria-disabled="true"' in page
    row = StaffAction.objects.get(action="registration.lock")
    assert row.outcome == "unknown" and row.actor == support_user
    assert ("registrar.settle_registration", [registration.pk]) in published
    assert len(faults.delivered_to("PATCH", "/lock$")) == 1

    # The back-office finds out: the registrar answers again, the settle task reads the
    # registration, and the lock was applied.
    faults.armed.clear()
    assert settle_registration.run(registration.pk) == "settled"
    registration.refresh_from_db()
    assert registration.locked and registration.unsettled_operation == ""
    settled = StaffAction.objects.get(action="registration.settled")
    assert settled.actor is None and "locked" in settled.parameters["changes"]
    page = html.unescape(client.get(reverse("admin:registrar_registration_change",
                                            args=[registration.pk])).content.decode())
    assert "summary-unsettled" not in page
    assert Registration.objects.get(pk=registration.pk).unsettled_since is None
