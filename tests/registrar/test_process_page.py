"""admin:registrar_registration_processes: the registration's processes as the registrar
lists them now (GET .../processes), linked from the cockpit. A read: nothing stored,
nothing audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from backoffice.models import StaffAction
from registrar import services
from registrar.models import Process
from tests.factories import RegistrationFactory, TldFactory


@pytest.fixture
def registration(sandbox):
    registration = RegistrationFactory(name="process.com", tld=TldFactory(name="com"))
    sandbox.seed()
    return registration


def start(sandbox, registration, actor) -> Process:
    sandbox.next_async(registration.upstream_id, polls=5)
    return services.registration_set_lock(registration=registration, locked=True,
                                          actor=actor).process


def url_of(registration) -> str:
    return reverse("admin:registrar_registration_processes", args=[registration.pk])


def test_the_page_lists_what_the_registrar_lists(client, sandbox, registration,
                                                 support_user):
    followed = start(sandbox, registration, support_user)
    before = (StaffAction.objects.count(), Process.objects.count())
    sandbox.transport.requests.clear()
    client.force_login(support_user)
    page = client.get(url_of(registration))
    assert page.status_code == 200
    html = page.content.decode()
    (request,) = sandbox.transport.requests
    assert (request.method, request.url.path) == (
        "GET", f"/api/domain_registrations/{registration.upstream_id}/processes")
    assert f'data-process="{followed.upstream_id}"' in html
    assert reverse("admin:registrar_process_change", args=[followed.pk]) in html
    assert "Registrar processes" in html and "process.com" in html  # the breadcrumb
    # Nothing written by a GET.
    assert (StaffAction.objects.count(), Process.objects.count()) == before


def test_a_process_not_followed_here_is_said_so(client, sandbox, registration, support_user):
    process = start(sandbox, registration, support_user)
    upstream_id = process.upstream_id
    Process.objects.filter(pk=process.pk).delete()
    client.force_login(support_user)
    html = client.get(url_of(registration)).content.decode()
    assert f'data-process="{upstream_id}"' in html
    assert 'data-not-followed="true"' in html
    assert not Process.objects.exists()


def test_an_upstream_failure_is_shown_and_changes_nothing(client, sandbox, registration,
                                                          support_user):
    sandbox.fault(f"/api/domain_registrations/{registration.upstream_id}/processes$",
                  status=502, times=5)  # a read is retried
    before = StaffAction.objects.count()
    client.force_login(support_user)
    page = client.get(url_of(registration))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="processes-problem"' in html and "Nothing was changed here." in html
    assert StaffAction.objects.count() == before


@pytest.mark.parametrize(("role", "status"), [("finance", 403), ("support", 200)])
def test_permission_is_the_process_admins(client, sandbox, registration, support_user,
                                          finance_user, role, status):
    user = support_user if role == "support" else finance_user
    sandbox.transport.requests.clear()
    client.force_login(user)
    assert client.get(url_of(registration)).status_code == status
    assert bool(sandbox.transport.requests) is (status == 200)
    change = client.get(reverse("admin:registrar_registration_change",
                                args=[registration.pk])).content.decode()
    assert ('id="registrar-processes-link"' in change) is (status == 200)
    if status == 200:
        assert f'href="{url_of(registration)}"' in change


def test_a_malformed_id_is_404(client, sandbox, support_user):
    client.force_login(support_user)
    assert client.get("/admin/registrar/registration/abc/processes/").status_code == 404
    assert client.get("/admin/registrar/registration/999999/processes/").status_code == 404
    assert sandbox.transport.requests == []
